package s3_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/connector/s3"
)

// apiError builds an error shaped as the SDK returns an S3 error answer.
func apiError(status int, code, message string, header http.Header) error {
	if header == nil {
		header = http.Header{}
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: header}},
			Err:      &smithy.GenericAPIError{Code: code, Message: message},
		},
		RequestID: "REQ123",
	}}
}

func TestExplain(t *testing.T) {
	// The store's own text, which must never reach a message.
	const internal = "User arn:aws:sts::111122223333:assumed-role/Secret/x is not authorized by policy p-42"
	reauth := glossa.Errorf(glossa.EREAUTH, "Sign in again.")
	tests := []struct {
		name string
		err  error
		code string
		want string // in the message
	}{
		{"access denied", apiError(403, "AccessDenied", internal, nil), glossa.EFORBIDDEN, "Access denied"},
		{"head forbidden", apiError(403, "Forbidden", "Forbidden", nil), glossa.EFORBIDDEN, "Access denied"},
		{"no such bucket", apiError(404, "NoSuchBucket", internal, nil), glossa.ENOTFOUND, "does not exist"},
		{"no such key", apiError(404, "NoSuchKey", internal, nil), glossa.ENOTFOUND, "does not exist"},
		{"expired token", apiError(400, "ExpiredToken", internal, nil), glossa.EREAUTH, "sign in again"},
		{"invalid key", apiError(403, "InvalidAccessKeyId", internal, nil), glossa.EFORBIDDEN, "access key ID"},
		{"bad signature", apiError(403, "SignatureDoesNotMatch", internal, nil), glossa.EFORBIDDEN, "secret access key"},
		{"region", apiError(301, "PermanentRedirect", internal, http.Header{"X-Amz-Bucket-Region": {"eu-west-1"}}), glossa.EINVALID, "region eu-west-1"},
		{"region, head", apiError(301, "MovedPermanently", "Moved Permanently", nil), glossa.EINVALID, "region_name"},
		{"slow down", apiError(503, "SlowDown", internal, nil), glossa.EUNAVAILABLE, "try again later"},
		{"unknown 4xx", apiError(409, "WeirdThing", internal, nil), glossa.EINVALID, "HTTP status 409"},
		{"network", &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused 10.0.0.7")}}}, glossa.EUNAVAILABLE, "could not be reached"},
		{"dns", &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: &net.DNSError{Err: "no such host", Name: "internal.corp"}}}, glossa.EUNAVAILABLE, "could not be found"},
		{"timeout", fmt.Errorf("op: %w", context.DeadlineExceeded), glossa.EUNAVAILABLE, "in time"},
		{"glossa error passes through", fmt.Errorf("creds: %w", reauth), glossa.EREAUTH, "Sign in again."},
		{"anything else", errors.New(internal), glossa.EINTERNAL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s3.Explain(tt.err)
			if e.Code != tt.code {
				t.Errorf("code = %q, want %q (%v)", e.Code, tt.code, e)
			}
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("message %q does not contain %q", e.Message, tt.want)
			}
			for _, leak := range []string{"111122223333", "Secret", "p-42", "REQ123", "10.0.0.7", "internal.corp"} {
				if strings.Contains(glossa.ErrorMessage(e), leak) {
					t.Errorf("message %q leaks %q", glossa.ErrorMessage(e), leak)
				}
			}
			if tt.code != glossa.EREAUTH && !errors.Is(e, tt.err) {
				t.Errorf("the original error is not kept for the logs")
			}
		})
	}
	if s3.Explain(nil) != nil {
		t.Error("Explain(nil) != nil")
	}
	if e := s3.Explain(reauth); e != reauth {
		t.Errorf("Explain(EREAUTH) = %v, want it unchanged", e)
	}
}

// fixedCreds is a credential source that hands out the same credentials.
func fixedCreds(c glossa.Credentials) s3.CredentialSource {
	return credsFunc(func(context.Context, *glossa.Storage, int64) (glossa.Credentials, error) { return c, nil })
}

func TestMediaURL(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	session := glossa.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "tok/en+==", Expires: now.Add(4*time.Minute + 30*time.Second)}
	tests := []struct {
		name        string
		storage     glossa.Storage
		creds       glossa.Credentials
		key         string
		wantHost    string
		wantPath    string
		wantExpires string
		wantToken   string
	}{
		{
			name:    "aws, virtual-hosted, capped by the credentials",
			storage: glossa.Storage{Bucket: "scans", RegionName: "eu-west-1", PresignTTL: 15, AuthMode: glossa.AuthSAMLFederated},
			creds:   session, key: "teamA/x y+z.jpg",
			wantHost: "scans.s3.eu-west-1.amazonaws.com", wantPath: "/teamA/x%20y%2Bz.jpg", wantExpires: "270", wantToken: "tok/en+==",
		},
		{
			name:    "aws, dotted bucket, default region and ttl",
			storage: glossa.Storage{Bucket: "my.scans", AuthMode: glossa.AuthStatic},
			creds:   glossa.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, key: "a.jpg",
			wantHost: "s3.us-east-1.amazonaws.com", wantPath: "/my.scans/a.jpg", wantExpires: "60",
		},
		{
			name:    "custom endpoint, path-style",
			storage: glossa.Storage{Bucket: "scans", S3Endpoint: "http://127.0.0.1:8333", PresignTTL: 2, AuthMode: glossa.AuthBroker},
			creds:   session, key: "teamA/1.jpg",
			wantHost: "127.0.0.1:8333", wantPath: "/scans/teamA/1.jpg", wantExpires: "120", wantToken: "tok/en+==",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &s3.Connector{Creds: fixedCreds(tt.creds), Now: func() time.Time { return now }}
			raw, err := c.MediaURL(context.Background(), &tt.storage, 3, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if u.Host != tt.wantHost || u.EscapedPath() != tt.wantPath {
				t.Errorf("URL %s: host %q path %q, want %q %q", raw, u.Host, u.EscapedPath(), tt.wantHost, tt.wantPath)
			}
			if got := q.Get("X-Amz-Expires"); got != tt.wantExpires {
				t.Errorf("X-Amz-Expires = %q, want %q", got, tt.wantExpires)
			}
			if got := q.Get("X-Amz-Security-Token"); got != tt.wantToken {
				t.Errorf("X-Amz-Security-Token = %q, want %q", got, tt.wantToken)
			}
			if q.Get("X-Amz-Date") != "20261128T120000Z" || q.Get("X-Amz-Signature") == "" ||
				!strings.HasPrefix(q.Get("X-Amz-Credential"), tt.creds.AccessKeyID+"/20261128/") {
				t.Errorf("URL %s is not a SigV4 presigned URL of now", raw)
			}
		})
	}

	t.Run("expired credentials", func(t *testing.T) {
		c := &s3.Connector{Creds: fixedCreds(glossa.Credentials{AccessKeyID: "A", SecretAccessKey: "s", Expires: now.Add(-time.Minute)}), Now: func() time.Time { return now }}
		_, err := c.MediaURL(context.Background(), &glossa.Storage{Bucket: "b", AuthMode: glossa.AuthSAMLFederated}, 3, "k")
		if glossa.ErrorCode(err) != glossa.EREAUTH {
			t.Errorf("err = %v, want EREAUTH", err)
		}
	})
	t.Run("credential errors pass through", func(t *testing.T) {
		want := glossa.Errorf(glossa.EREAUTH, "Sign in through Okta again.")
		c := &s3.Connector{Creds: credsFunc(func(context.Context, *glossa.Storage, int64) (glossa.Credentials, error) {
			return glossa.Credentials{}, want
		})}
		if _, err := c.MediaURL(context.Background(), &glossa.Storage{Bucket: "b", AuthMode: glossa.AuthBroker}, 3, "k"); err != want {
			t.Errorf("err = %v, want %v unchanged", err, want)
		}
	})
}

// A job whose storage was deleted meanwhile fails, rather than being left
// running for another process to take over again and again.
func TestRunSyncStorageGone(t *testing.T) {
	store := newFakeStore()
	s := store.addStorage(glossa.Storage{Bucket: "b"})
	j := store.queueJob(s, 3)
	delete(store.storages, s.ID)
	c := &s3.Connector{Creds: fixedCreds(glossa.Credentials{}), Store: store}
	claimed, _ := store.ClaimStorageJob(context.Background(), time.Now(), time.Now())
	if err := c.RunSync(context.Background(), claimed); err != nil {
		t.Fatal(err)
	}
	if got := store.job(j.ID); got.Status != glossa.SyncFailed || got.Error != "The storage no longer exists." {
		t.Errorf("job %s %q, want failed, saying the storage is gone", got.Status, got.Error)
	}
}

// BenchmarkMediaURL measures presigning one media URL with credentials
// the source has cached, as on every media request (the audit trail's
// own cost excluded: the auditor here discards).
func BenchmarkMediaURL(b *testing.B) {
	creds := glossa.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: strings.Repeat("t", 800), Expires: time.Now().Add(time.Hour)}
	c := &s3.Connector{Creds: fixedCreds(creds), Audit: discard{}}
	s := &glossa.Storage{ID: 1, OrgID: 1, Bucket: "scans", RegionName: "eu-west-1", PresignTTL: 15, AuthMode: glossa.AuthSAMLFederated}
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("teamA/2026/scan %05d.jpg", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := c.MediaURL(ctx, s, 3, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) AppendAudit(context.Context, *glossa.AuditEvent) error { return nil }
