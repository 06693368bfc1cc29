package s3

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/glossa-dev/glossa"
)

// Validate checks a storage's settings with real calls made with
// userID's credentials (the storage's in the shared modes), as Label
// Studio's validate_connection does: with a prefix, ListObjectsV2 of one
// key under it, which must find one for a source storage (a target may
// be empty); without a prefix, HeadBucket. It says what is wrong: settings
// that cannot work (no bucket, an invalid regex_filter or endpoint:
// EINVALID, all of them at once), a bucket that does not exist, access
// denied for the role on the bucket or prefix, an endpoint that does not
// answer, keys the store does not recognize, a bucket in another region
// (see Explain); expired per-person credentials are EREAUTH, as the
// credential source says.
func (c *Connector) Validate(ctx context.Context, s *glossa.Storage, userID int64) error {
	c.setup()
	if err := checkSettings(s); err != nil {
		return err
	}
	a, err := c.acquire(ctx, s, userID)
	if err != nil {
		return err
	}
	ab := aboutStorage(s, "list", c.roleOf(ctx, s, userID))
	cl := a.ep.s3(c)
	// One attempt: an answer now, not after the SDK's back-off.
	once := func(o *awss3.Options) { o.RetryMaxAttempts = 1 }
	prefix := s.ListPrefix()
	if prefix == "" {
		_, err := cl.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.Bucket)}, once)
		if err == nil {
			return nil
		}
		if apiCode(err) == "Forbidden" {
			// A HEAD answer has no body, so a 403 does not say whether
			// the role is refused or the keys are wrong; a listing's
			// answer does.
			_, lerr := cl.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), MaxKeys: aws.Int32(1)}, once)
			if code := apiCode(lerr); code != "" && code != "AccessDenied" {
				return explain(lerr, ab)
			}
		}
		return explain(err, ab.withOp("check"))
	}
	out, err := cl.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1),
	}, once)
	if err != nil {
		return explain(err, ab)
	}
	if s.Type != glossa.StorageTarget && len(out.Contents) == 0 {
		return glossa.Errorf(glossa.EINVALID, "No objects found under s3://%s/%s: check the prefix, and that %s may list it.", s.Bucket, prefix, ab.who())
	}
	return nil
}

// checkSettings reports every setting that cannot work, in one EINVALID.
func checkSettings(s *glossa.Storage) error {
	var problems []string
	if strings.TrimSpace(s.Bucket) == "" {
		problems = append(problems, "Set the bucket.")
	} else if strings.ContainsAny(s.Bucket, "/ ") {
		problems = append(problems, "The bucket is a name such as \"my-bucket\", without \"/\" or spaces; put a path in the prefix.")
	}
	if _, err := compileFilter(s.RegexFilter); err != nil {
		problems = append(problems, glossa.ErrorMessage(err))
	}
	if s.S3Endpoint != "" {
		if _, err := parseEndpoint(s.S3Endpoint); err != nil {
			problems = append(problems, glossa.ErrorMessage(err))
		}
	}
	if len(problems) > 0 {
		return glossa.Errorf(glossa.EINVALID, "%s", strings.Join(problems, " "))
	}
	return nil
}
