package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/glossa-dev/glossa"
)

// Explain turns an error of an S3 call into a *glossa.Error whose message
// says, in words an Owner can act on, what is wrong: access denied
// (EFORBIDDEN), no such bucket or object (ENOTFOUND), expired federated
// credentials (EREAUTH), keys the store does not recognize or a signature
// it rejects (EFORBIDDEN), a bucket in another region (EINVALID), an
// endpoint that does not answer (EUNAVAILABLE). The message never carries
// the store's own text (which may name accounts, hosts or policies); the
// original error is kept in Err for the logs. A *glossa.Error anywhere in
// err's chain (EREAUTH from the credential source) is returned unchanged,
// and nil gives nil.
func Explain(err error) *glossa.Error { return explain(err, about{}) }

// about says what a failed call was about, so that its explanation can
// name the bucket, the object or prefix, the role and the endpoint. The
// zero value gives generic sentences.
type about struct {
	op       string // "list", "read", "write", "delete" or "check"
	bucket   string
	key      string // an object, or
	prefix   string // a prefix ("" with key "" means the whole bucket)
	role     string
	endpoint string
	region   string
	kmsKey   string
	mode     glossa.AuthMode
}

// aboutStorage describes a call on s acting as role.
func aboutStorage(s *glossa.Storage, op, role string) about {
	return about{op: op, bucket: s.Bucket, prefix: s.ListPrefix(), role: role, endpoint: s.S3Endpoint,
		region: s.Region(), kmsKey: s.SSEKMSKeyID, mode: s.AuthMode}
}

func (a about) withKey(key string) about  { a.key, a.prefix = key, ""; return a }
func (a about) withPrefix(p string) about { a.key, a.prefix = "", p; return a }
func (a about) withOp(op string) about    { a.op = op; return a }

// where names the bucket location: s3://bucket/key, s3://bucket/prefix or
// "the bucket".
func (a about) where() string {
	switch {
	case a.bucket == "":
		return "the bucket"
	case a.key != "":
		return "s3://" + a.bucket + "/" + a.key
	default:
		return "s3://" + a.bucket + "/" + a.prefix
	}
}

// who names whose access it is.
func (a about) who() string {
	switch {
	case a.role != "":
		return "the role " + a.role
	case a.mode.PerPerson():
		return "your role"
	case a.mode != "":
		return "the storage's credentials"
	}
	return "these credentials"
}

func (a about) verb() string {
	switch a.op {
	case "list":
		return "list"
	case "write":
		return "write to"
	case "delete":
		return "delete"
	case "check":
		return "access"
	}
	return "read"
}

// bucketRegion matches a region name as S3 reports it in
// x-amz-bucket-region, before it is repeated in a message.
var bucketRegion = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)

// apiCode is the S3 error code of err ("AccessDenied"), or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func explain(err error, a about) *glossa.Error {
	if err == nil {
		return nil
	}
	var ge *glossa.Error
	if errors.As(err, &ge) {
		return ge
	}
	wrap := func(code, format string, args ...any) *glossa.Error {
		return glossa.Wrap(code, err, fmt.Sprintf(format, args...))
	}

	status := 0
	var header func(string) string
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.ResponseError != nil && re.Response != nil && re.Response.Response != nil {
		status = re.HTTPStatusCode()
		header = re.Response.Header.Get
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}

	switch {
	case code == "AccessDenied" || code == "Forbidden" || code == "AllAccessDisabled" || code == "AccountProblem" ||
		(code == "" && status == 403):
		if a.kmsKey != "" && a.op == "write" && ae != nil && strings.Contains(strings.ToLower(ae.ErrorMessage()), "kms") {
			return wrap(glossa.EFORBIDDEN, "Access denied: %s may not use the KMS key set in aws_sse_kms_key_id to write to %s.", a.who(), a.where())
		}
		return wrap(glossa.EFORBIDDEN, "Access denied: %s may not %s %s.", a.who(), a.verb(), a.where())

	case code == "NoSuchBucket" || (code == "NotFound" && a.key == "" && a.op == "check"):
		return wrap(glossa.ENOTFOUND, "The bucket %q does not exist%s; check its name and the endpoint.", a.bucket, a.at())
	case code == "NoSuchKey" || code == "NotFound" || (code == "" && status == 404):
		return wrap(glossa.ENOTFOUND, "%s does not exist.", capitalize(a.where()))

	case code == "ExpiredToken" || code == "ExpiredTokenException" || code == "TokenRefreshRequired":
		return expiredError(&glossa.Storage{AuthMode: a.mode}, err)
	case code == "InvalidAccessKeyId":
		if a.mode.PerPerson() {
			return wrap(glossa.EFORBIDDEN, "The storage%s does not recognize your temporary credentials: sign in again; if that does not help, ask your administrator to check that the storage's endpoint belongs to the account of its role.", a.at())
		}
		return wrap(glossa.EFORBIDDEN, "The storage%s does not recognize the access key ID: check aws_access_key_id, and that the endpoint is the store the key belongs to.", a.at())
	case code == "SignatureDoesNotMatch":
		return wrap(glossa.EFORBIDDEN, "The storage%s rejected the request signature: check that the secret access key belongs to the access key ID.", a.at())
	case code == "InvalidToken":
		return wrap(glossa.EFORBIDDEN, "The storage%s rejected the session token of the credentials.", a.at())
	case code == "RequestTimeTooSkewed":
		return wrap(glossa.EUNAVAILABLE, "The storage rejected the request because this server's clock differs from the storage's; ask your administrator to check the server time.")

	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || code == "MovedPermanently" ||
		code == "TemporaryRedirect" || code == "IllegalLocationConstraintException" || status == 301 || status == 307:
		if header != nil {
			if r := header("x-amz-bucket-region"); bucketRegion.MatchString(r) && r != a.region {
				return wrap(glossa.EINVALID, "The bucket %q is in region %s, not %s: set region_name to %s.", a.bucket, r, a.regionName(), r)
			}
		}
		return wrap(glossa.EINVALID, "The bucket %q is not in region %s: set region_name to the bucket's region.", a.bucket, a.regionName())
	case code == "InvalidBucketName":
		return wrap(glossa.EINVALID, "%q is not a valid bucket name.", a.bucket)
	case strings.HasPrefix(code, "KMS.") || code == "KMSKeyNotFound" || (code == "InvalidArgument" && a.kmsKey != "" && a.op == "write"):
		return wrap(glossa.EINVALID, "The storage could not encrypt with the KMS key set in aws_sse_kms_key_id: check that the key exists, is enabled, is in the bucket's region and that %s may use it.", a.who())
	case code == "InvalidRange" || status == 416:
		return wrap(glossa.EINVALID, "The requested byte range is outside the file.")
	case code == "SlowDown" || code == "ServiceUnavailable" || code == "InternalError" || code == "RequestTimeout" || status >= 500:
		return wrap(glossa.EUNAVAILABLE, "The storage%s is busy or unavailable; try again later.", a.at())
	}

	// No answer at all: the endpoint is unreachable, or slow.
	if errors.Is(err, context.DeadlineExceeded) {
		return wrap(glossa.EUNAVAILABLE, "The storage%s did not answer in time.", a.at())
	}
	if errors.Is(err, context.Canceled) {
		return wrap(glossa.EUNAVAILABLE, "The request to the storage was canceled.")
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return wrap(glossa.EUNAVAILABLE, "The storage endpoint%s could not be found: check the endpoint's host name.", a.at())
	}
	var send *smithyhttp.RequestSendError
	var nerr net.Error
	if errors.As(err, &send) || errors.As(err, &nerr) {
		return wrap(glossa.EUNAVAILABLE, "The storage endpoint%s could not be reached.", a.at())
	}

	switch {
	case status == 400:
		return wrap(glossa.EINVALID, "The storage refused the request to %s as malformed; check the storage's settings.", a.where())
	case status >= 400:
		return wrap(glossa.EINVALID, "The storage refused the request to %s (HTTP status %d).", a.where(), status)
	}
	return glossa.Wrap(glossa.EINTERNAL, err, "The request to the storage failed.")
}

// at names a custom endpoint, or nothing for AWS.
func (a about) at() string {
	if a.endpoint == "" {
		return ""
	}
	return " at " + a.endpoint
}

func (a about) regionName() string {
	if a.region == "" {
		return glossa.DefaultRegion
	}
	return a.region
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// reauthMessage is what a person whose federated credentials expired is told.
const reauthMessage = "Your access to this storage's data has expired; sign in again through your identity provider."

// expiredError explains credentials that expired: per person, the person
// signs in again (EREAUTH); static keys with a session token need new
// keys; assume_role credentials are renewed by the server, so trying
// again helps.
func expiredError(s *glossa.Storage, err error) *glossa.Error {
	switch s.AuthMode {
	case glossa.AuthStatic:
		return glossa.Wrap(glossa.EFORBIDDEN, err, "The storage's session token has expired: update aws_session_token, or use keys without one.")
	case glossa.AuthAssumeRole:
		return glossa.Wrap(glossa.EUNAVAILABLE, err, "The storage's temporary credentials expired; try again.")
	}
	return glossa.Wrap(glossa.EREAUTH, err, reauthMessage)
}
