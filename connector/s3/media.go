package s3

// Media and visibility, per person: presigned URLs and proxied reads of
// task media, and the per-object and per-folder decisions of what a
// person's credentials may read.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/glossa-dev/glossa"
)

// MediaURL returns a URL that GETs key from s's bucket, presigned with
// userID's credentials (the storage's in the shared modes). It lives
// presign_ttl minutes (DefaultPresignTTL when unset) but never longer
// than the credentials it is signed with, since S3 refuses it once they
// expire anyway (AWS S3 User Guide, "Sharing objects with presigned
// URLs"), nor longer than SigV4's seven days. Per-person URLs are audited
// (action "federation.access", operation "presign"); whether the role may
// read the object is decided by the bucket when the URL is used.
//
// It is on the hot path of every media request and makes no network call:
// it signs a prebuilt request with SigV4 directly rather than through the
// SDK's presign client.
func (c *Connector) MediaURL(ctx context.Context, s *glossa.Storage, userID int64, key string) (string, error) {
	c.setup()
	a, err := c.acquire(ctx, s, userID)
	if err != nil {
		return "", err
	}
	now := c.now()
	expires, err := presignExpiry(s, a.creds, now)
	if err != nil {
		return "", err
	}
	u, err := c.presignGet(ctx, a.ep, s.Bucket, key, expires, now)
	if err != nil {
		return "", glossa.Wrap(glossa.EINTERNAL, err, "The media link could not be signed.")
	}
	if s.AuthMode.PerPerson() {
		c.audit(ctx, s, userID, "presign", c.roleOf(ctx, s, userID), "key", key, true, "")
	}
	return u, nil
}

// presignExpiry is the lifetime of a presigned URL of s, in whole seconds
// rounded down: presign_ttl minutes, capped by the credentials' remaining
// lifetime and MaxPresignExpiry. Credentials with less than a second left
// cannot sign anything useful.
func presignExpiry(s *glossa.Storage, creds glossa.Credentials, now time.Time) (int64, error) {
	ttl := time.Duration(s.PresignTTL) * time.Minute
	if s.PresignTTL <= 0 {
		ttl = glossa.DefaultPresignTTL * time.Minute
	}
	ttl = min(ttl, MaxPresignExpiry)
	if !creds.Expires.IsZero() {
		ttl = min(ttl, creds.Expires.Sub(now))
	}
	secs := int64(ttl / time.Second)
	if secs < 1 {
		return 0, expiredError(s, nil)
	}
	return secs, nil
}

// presignGet signs a GET of bucket/key valid for expires seconds from now.
func (c *Connector) presignGet(ctx context.Context, ep *endpoint, bucket, key string, expires int64, now time.Time) (string, error) {
	u := &url.URL{Scheme: "https", RawQuery: "X-Amz-Expires=" + strconv.FormatInt(expires, 10)}
	switch {
	case ep.host != "":
		// A custom endpoint, path-style as the SDK client uses it.
		u.Scheme, u.Host = ep.scheme, ep.host
		u.Path = ep.basePath + "/" + bucket + "/" + key
		u.RawPath = ep.rawBasePath + "/" + escapeKey(bucket) + "/" + escapeKey(key)
	case virtualHostable(bucket):
		u.Host = bucket + ".s3." + ep.region + ".amazonaws.com"
		u.Path, u.RawPath = "/"+key, "/"+escapeKey(key)
	default:
		// Bucket names with dots do not fit the wildcard certificate.
		u.Host = "s3." + ep.region + ".amazonaws.com"
		u.Path, u.RawPath = "/"+bucket+"/"+key, "/"+escapeKey(bucket)+"/"+escapeKey(key)
	}
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: make(http.Header)}
	signed, _, err := c.signer.PresignHTTP(ctx, ep.creds, req, "UNSIGNED-PAYLOAD", "s3", ep.region, now)
	return signed, err
}

// escapeKey percent-encodes an object key as SigV4 canonical URIs want it:
// every byte but the unreserved characters and "/".
func escapeKey(key string) string {
	n := 0
	for i := 0; i < len(key); i++ {
		if !unreserved(key[i]) {
			n++
		}
	}
	if n == 0 {
		return key
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(key)+2*n)
	for i := 0; i < len(key); i++ {
		if ch := key[i]; unreserved(ch) {
			b = append(b, ch)
		} else {
			b = append(b, '%', hex[ch>>4], hex[ch&15])
		}
	}
	return string(b)
}

func unreserved(ch byte) bool {
	return 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' ||
		ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/'
}

// virtualHostable reports whether a bucket can be addressed as
// bucket.s3.region.amazonaws.com over TLS: a DNS label without dots.
func virtualHostable(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 || bucket[0] == '-' || bucket[len(bucket)-1] == '-' {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		if ch := bucket[i]; !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

// ObjectInfo describes an object streamed by OpenMedia.
type ObjectInfo struct {
	ContentType string
	// ContentLength is the length of the body sent, -1 when unknown.
	ContentLength int64
	// ContentRange is the Content-Range of a partial answer.
	ContentRange string
	ETag         string
	// StatusPartial is true when the body is the requested range only
	// (HTTP 206).
	StatusPartial bool
}

// OpenMedia streams key from s's bucket with userID's credentials (the
// storage's in the shared modes): proxy mode, for storages that do not
// presign. rangeHeader, if it is a "bytes=" range, is forwarded to S3 as
// it came (Label Studio forwards Range too, so audio and video seek). The
// caller closes the body. Per-person reads are audited (operation
// "read").
func (c *Connector) OpenMedia(ctx context.Context, s *glossa.Storage, userID int64, key, rangeHeader string) (io.ReadCloser, ObjectInfo, error) {
	c.setup()
	a, err := c.acquire(ctx, s, userID)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)}
	if strings.HasPrefix(rangeHeader, "bytes=") {
		in.Range = aws.String(rangeHeader)
	}
	out, err := a.ep.s3(c).GetObject(ctx, in)
	role := ""
	if s.AuthMode.PerPerson() {
		role = c.roleOf(ctx, s, userID)
	}
	if err != nil {
		e := explain(err, aboutStorage(s, "read", role).withKey(key))
		if s.AuthMode.PerPerson() && e.Code == glossa.EFORBIDDEN {
			c.audit(ctx, s, userID, "read", role, "key", key, false, e.Message)
		}
		return nil, ObjectInfo{}, e
	}
	if s.AuthMode.PerPerson() {
		c.audit(ctx, s, userID, "read", role, "key", key, true, "")
	}
	info := ObjectInfo{
		ContentType:   aws.ToString(out.ContentType),
		ContentLength: -1,
		ContentRange:  aws.ToString(out.ContentRange),
		ETag:          aws.ToString(out.ETag),
	}
	if out.ContentLength != nil {
		info.ContentLength = *out.ContentLength
	}
	info.StatusPartial = info.ContentRange != ""
	return out.Body, info, nil
}

// decisionKey names one visibility decision, of a folder, for a person's
// particular credentials, so that new credentials (a new sign-in, perhaps
// with another role) decide afresh.
type decisionKey struct {
	storageID, userID int64
	accessKeyID       string
	folder            string
}

// headObject decides one object: readable, or refused/absent with the
// reason; other failures are errors.
func (c *Connector) headObject(ctx context.Context, a *access, ab about, key string) (bool, string, error) {
	_, err := a.ep.s3(c).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(a.s.Bucket), Key: aws.String(key)})
	if err == nil {
		return true, "", nil
	}
	if refused(err) {
		return false, explain(err, ab).Message, nil
	}
	return false, "", explain(err, ab)
}

// refused reports whether the bucket answered a request with a refusal
// that is a decision about the object (403 or 404), not a failure.
func refused(err error) bool {
	switch apiCode(err) {
	case "AccessDenied", "Forbidden", "NotFound", "NoSuchKey":
		return true
	}
	return false
}

// decisionExpiry is when a decision made with creds lapses.
func (c *Connector) decisionExpiry(creds glossa.Credentials) time.Time {
	if creds.Expires.IsZero() {
		return c.now().Add(decisionTTL)
	}
	return creds.Expires
}

// ReadableFolders returns those of folders (as Store.FindStorageFolders
// lists them: "" or prefixes ending in "/") whose objects userID's
// credentials may read, in the given order. A folder is decided by one of
// its objects: the first that ListObjectsV2 under it returns, then a
// HeadObject of that object; a folder the role may not list, or that
// holds no object any more, is not readable. Decisions are cached per
// storage, person, credentials and folder until the credentials expire,
// and each new one is audited (action "federation.access", operation
// "check", with the prefix). In the shared modes every folder is
// readable, without a call.
func (c *Connector) ReadableFolders(ctx context.Context, s *glossa.Storage, userID int64, folders []string) ([]string, error) {
	if !s.AuthMode.PerPerson() {
		return append([]string(nil), folders...), nil
	}
	c.setup()
	a, err := c.acquire(ctx, s, userID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	readable := make([]bool, len(folders))
	var todo []int
	for i, f := range folders {
		k := decisionKey{storageID: s.ID, userID: userID, accessKeyID: a.creds.AccessKeyID, folder: f}
		if ok, hit := c.decisions.get(k, now); hit {
			readable[i] = ok
		} else {
			todo = append(todo, i)
		}
	}
	if len(todo) > 0 {
		role := c.roleOf(ctx, s, userID)
		errs := make([]error, len(todo))
		c.forEach(len(todo), func(j int) {
			i := todo[j]
			f := folders[i]
			ok, reason, err := c.decideFolder(ctx, a, role, f)
			if err != nil {
				errs[j] = err
				return
			}
			readable[i] = ok
			k := decisionKey{storageID: s.ID, userID: userID, accessKeyID: a.creds.AccessKeyID, folder: f}
			c.decisions.put(k, ok, c.decisionExpiry(a.creds))
			c.audit(ctx, s, userID, "check", role, "prefix", f, ok, reason)
		})
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	var out []string
	for i, f := range folders {
		if readable[i] {
			out = append(out, f)
		}
	}
	return out, nil
}

// folderListPages bounds the listing a folder decision makes while
// looking for an object directly in the folder.
const folderListPages = 3

// decideFolder decides one folder by its first object.
func (c *Connector) decideFolder(ctx context.Context, a *access, role, folder string) (bool, string, error) {
	ab := aboutStorage(a.s, "list", role).withPrefix(folder)
	in := &awss3.ListObjectsV2Input{
		Bucket: aws.String(a.s.Bucket),
		Prefix: aws.String(folder),
		// Objects directly in the folder: its own policy, not a
		// sub-folder's, decides it.
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(100),
	}
	pages := awss3.NewListObjectsV2Paginator(a.ep.s3(c), in)
	for n := 0; n < folderListPages && pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			if refused(err) {
				return false, explain(err, ab).Message, nil
			}
			return false, "", explain(err, ab)
		}
		for _, o := range page.Contents {
			if key := aws.ToString(o.Key); key != "" && !strings.HasSuffix(key, "/") {
				return c.headObject(ctx, a, ab.withOp("read").withKey(key), key)
			}
		}
	}
	return false, "The folder holds no objects.", nil
}
