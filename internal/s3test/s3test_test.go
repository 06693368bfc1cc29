package s3test_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/glossa-dev/glossa/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// teamAPolicy is the shape of policy Glossa asks customers for: objects
// under one prefix, listing of the bucket.
const teamAPolicy = `{"Version":"2012-10-17","Statement":[
	{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::tasks/teamA/*"]},
	{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::tasks"]}]}`

// rig is the configuration of the server the tests share.
var rig = s3test.Config{
	Roles: []s3test.Role{
		{Name: "TeamA", Policy: teamAPolicy},
		// Trusts the admin, not the broker.
		{Name: "AdminOnly", Policy: teamAPolicy, Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Principal":{"AWS":"` + s3test.AdminARN + `"},"Action":"sts:AssumeRole"}]}`},
		// Trusts the broker only with the customer's external ID, as
		// broker-mode products ask customers to configure.
		{Name: "WithExternalID", Policy: teamAPolicy, Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Principal":{"AWS":"` + s3test.BrokerARN + `"},"Action":"sts:AssumeRole",
			"Condition":{"StringEquals":{"sts:ExternalId":"org-1"}}}]}`},
	},
	Buckets: []string{"tasks"},
}

// key returns a key under team's prefix that is this test's alone, since
// the tests share a server and run in parallel.
func key(t *testing.T, team, name string) string {
	return team + "/" + t.Name() + "/" + name
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// assumeRole assumes role as the broker, as Glossa's broker mode does,
// with an optional session policy.
func assumeRole(t *testing.T, s *s3test.Server, role, sessionPolicy string) (*sts.AssumeRoleOutput, aws.Credentials) {
	t.Helper()
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(s.RoleARN(role)),
		RoleSessionName: aws.String("alice"),
		DurationSeconds: aws.Int32(900),
	}
	if sessionPolicy != "" {
		in.Policy = aws.String(sessionPolicy)
	}
	out, err := s.STSClient(s.BrokerCredentials()).AssumeRole(ctx(t), in)
	if err != nil {
		t.Fatalf("AssumeRole %s as broker: %v", role, err)
	}
	return out, s3test.SessionCredentials(out.Credentials)
}

// wantError fails the test unless err is an API error with that HTTP
// status and code.
func wantError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want HTTP %d %s", what, status, code)
		return
	}
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	if !errors.As(err, &apiErr) || !errors.As(err, &respErr) {
		t.Errorf("%s: %v, want HTTP %d %s", what, err, status, code)
		return
	}
	if respErr.HTTPStatusCode() != status || apiErr.ErrorCode() != code {
		t.Errorf("%s: HTTP %d %s (%s), want HTTP %d %s", what, respErr.HTTPStatusCode(), apiErr.ErrorCode(), apiErr.ErrorMessage(), status, code)
	}
}

func getObject(t *testing.T, c *s3.Client, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func putObject(t *testing.T, c *s3.Client, bucket, key string, body []byte) error {
	t.Helper()
	_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

// httpGet fetches url with plain net/http, as a browser following a
// presigned URL would.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	return resp.StatusCode, string(b)
}

func TestSharedServerIsShared(t *testing.T) {
	t.Parallel()
	if a, b := s3test.Shared(t, rig), s3test.Shared(t, rig); a != b {
		t.Errorf("Shared started a second server for the same Config")
	}
}

func TestBrokerStaticKeysHaveNoS3Access(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	k := key(t, "teamA", "in.json")
	s.Put(t, "tasks", k, []byte("task"))
	if got, err := s.Get(t, "tasks", k); err != nil || string(got) != "task" {
		t.Fatalf("admin Get = %q, %v; want the fixture", got, err)
	}
	broker := s.S3Client(s.BrokerCredentials())
	_, err := getObject(t, broker, "tasks", k)
	wantError(t, "broker GetObject with its static keys", err, 403, "AccessDenied")
	err = putObject(t, broker, "tasks", key(t, "teamA", "out.json"), []byte("x"))
	wantError(t, "broker PutObject with its static keys", err, 403, "AccessDenied")
	_, err = broker.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String("tasks")})
	wantError(t, "broker ListObjectsV2 with its static keys", err, 403, "AccessDenied")
	// Anonymous requests get nothing either.
	_, err = getObject(t, s.S3Client(aws.Credentials{}), "tasks", k)
	wantError(t, "anonymous GetObject", err, 403, "AccessDenied")
}

func TestAssumeRoleScopesSessionToRolePolicy(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	inA, inB := key(t, "teamA", "in.json"), key(t, "teamB", "in.json")
	s.Put(t, "tasks", inA, []byte("task A"))
	s.Put(t, "tasks", inB, []byte("task B"))

	before := time.Now()
	out, creds := assumeRole(t, s, "TeamA", "")
	if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::000000000000:assumed-role/TeamA/alice"; got != want {
		t.Errorf("assumed-role ARN = %s, want %s", got, want)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" || creds.SessionToken == "" {
		t.Fatalf("AssumeRole returned incomplete credentials: %+v", out.Credentials)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		t.Errorf("session access key %s, want a temporary one (ASIA...)", creds.AccessKeyID)
	}
	// DurationSeconds is honoured (to the second, give or take the call).
	if exp := creds.Expires; exp.Before(before.Add(899*time.Second)) || exp.After(time.Now().Add(901*time.Second)) {
		t.Errorf("session expires %v, want 900 s after %v", exp, before)
	}
	// The session is the role session, not the broker.
	who, err := s.STSClient(creds).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with the session: %v", err)
	}
	if got := aws.ToString(who.Arn); got != aws.ToString(out.AssumedRoleUser.Arn) {
		t.Errorf("GetCallerIdentity with the session = %s, want %s", got, aws.ToString(out.AssumedRoleUser.Arn))
	}

	sess := s.S3Client(creds)
	if got, err := getObject(t, sess, "tasks", inA); err != nil || string(got) != "task A" {
		t.Errorf("session GetObject under teamA = %q, %v; want the fixture", got, err)
	}
	outA := key(t, "teamA", "export.json")
	if err := putObject(t, sess, "tasks", outA, []byte("export A")); err != nil {
		t.Errorf("session PutObject under teamA: %v", err)
	}
	if got, err := s.Get(t, "tasks", outA); err != nil || string(got) != "export A" {
		t.Errorf("admin reads the session's export as %q, %v", got, err)
	}
	list, err := sess.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String("tasks"), Prefix: aws.String("teamA/" + t.Name() + "/")})
	if err != nil {
		t.Errorf("session ListObjectsV2 on tasks: %v", err)
	} else if len(list.Contents) != 2 {
		t.Errorf("session lists %d objects under its prefix, want 2", len(list.Contents))
	}

	_, err = getObject(t, sess, "tasks", inB)
	wantError(t, "session GetObject under teamB", err, 403, "AccessDenied")
	outB := key(t, "teamB", "export.json")
	err = putObject(t, sess, "tasks", outB, []byte("export B"))
	wantError(t, "session PutObject under teamB", err, 403, "AccessDenied")
	_, err = s.Get(t, "tasks", outB)
	wantError(t, "admin GetObject of the refused export", err, 404, "NoSuchKey")
}

func TestSessionPolicyIsIntersectedWithRolePolicy(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	inA, inB := key(t, "teamA", "in.json"), key(t, "teamB", "in.json")
	s.Put(t, "tasks", inA, []byte("task A"))
	s.Put(t, "tasks", inB, []byte("task B"))
	// Read-only, and reaching for teamB, which the role does not allow: a
	// session policy can only narrow the role's permissions.
	const readOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
		"Resource":["arn:aws:s3:::tasks/teamA/*","arn:aws:s3:::tasks/teamB/*"]}]}`
	out, creds := assumeRole(t, s, "TeamA", readOnly)
	if out.PackedPolicySize == nil {
		t.Errorf("AssumeRole with a session policy returned no PackedPolicySize")
	}
	sess := s.S3Client(creds)
	if got, err := getObject(t, sess, "tasks", inA); err != nil || string(got) != "task A" {
		t.Errorf("GetObject under teamA (role and session policy allow) = %q, %v", got, err)
	}
	err := putObject(t, sess, "tasks", key(t, "teamA", "export.json"), []byte("x"))
	wantError(t, "PutObject under teamA (role allows, session policy does not)", err, 403, "AccessDenied")
	_, err = getObject(t, sess, "tasks", inB)
	wantError(t, "GetObject under teamB (session policy allows, role does not)", err, 403, "AccessDenied")
}

// jwtSegments splits a session token, which SeaweedFS makes an HS256 JWT.
func jwtSegments(t *testing.T, token string) []string {
	t.Helper()
	seg := strings.Split(token, ".")
	if len(seg) != 3 {
		t.Fatalf("session token is not a JWT (%d segments)", len(seg))
	}
	return seg
}

func TestSessionTokenIsVerified(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	in := key(t, "teamA", "in.json")
	s.Put(t, "tasks", in, []byte("task"))
	_, creds := assumeRole(t, s, "TeamA", "")
	if _, err := getObject(t, s.S3Client(creds), "tasks", in); err != nil {
		t.Fatalf("GetObject with the untouched session: %v", err)
	}
	seg := jwtSegments(t, creds.SessionToken)

	// Claims edited to outlive the session, signature kept.
	payload, err := base64.RawURLEncoding.DecodeString(seg[1])
	if err != nil {
		t.Fatalf("session token payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("session token payload: %v", err)
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		t.Fatalf("session token has no exp claim: %s", payload)
	}
	claims["exp"] = exp + 24*3600
	payload, _ = json.Marshal(claims)
	extended := seg[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + seg[2]

	// The same claims signed with a key that is not the server's.
	otherKey := make([]byte, 32)
	rand.Read(otherKey)
	mac := hmac.New(sha256.New, otherKey)
	mac.Write([]byte(seg[0] + "." + seg[1]))
	forged := seg[0] + "." + seg[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	_, other := assumeRole(t, s, "TeamA", "")
	for _, tc := range []struct {
		name, token string
	}{
		{"claims edited", extended},
		{"signed with another key", forged},
		{"token of another session", other.SessionToken},
		{"no token", ""},
	} {
		c := creds
		c.SessionToken = tc.token
		_, err := getObject(t, s.S3Client(c), "tasks", in)
		wantError(t, "GetObject with session token "+tc.name, err, 403, "InvalidAccessKeyId")
	}
}

func TestPresignedURLs(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	inA, inB := key(t, "teamA", "in.json"), key(t, "teamB", "in.json")
	s.Put(t, "tasks", inA, []byte("task A"))
	s.Put(t, "tasks", inB, []byte("task B"))
	_, creds := assumeRole(t, s, "TeamA", "")
	presign := s3.NewPresignClient(s.S3Client(creds))
	url := func(key string, expires time.Duration) string {
		t.Helper()
		req, err := presign.PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String("tasks"), Key: aws.String(key)}, s3.WithPresignExpires(expires))
		if err != nil {
			t.Fatalf("presign GET %s: %v", key, err)
		}
		return req.URL
	}

	long := url(inA, 15*time.Minute)
	if !strings.Contains(long, "X-Amz-Security-Token=") || !strings.Contains(long, "X-Amz-Expires=900") {
		t.Errorf("presigned URL lacks the session token or X-Amz-Expires: %s", long)
	}
	if status, body := httpGet(t, long); status != 200 || body != "task A" {
		t.Errorf("GET presigned URL under teamA = %d %q, want 200 and the fixture", status, body)
	}
	// The signature covers the path: the same query on another key fails.
	if status, body := httpGet(t, strings.Replace(long, "/in.json?", "/other.json?", 1)); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Errorf("GET presigned URL with another key = %d %s, want 403 SignatureDoesNotMatch", status, body)
	}
	// A presigned URL is the session's: outside the role's prefix, no.
	if status, body := httpGet(t, url(inB, 15*time.Minute)); status != 403 || !strings.Contains(body, "AccessDenied") {
		t.Errorf("GET presigned URL under teamB = %d %s, want 403 AccessDenied", status, body)
	}

	// SeaweedFS enforces X-Amz-Expires.
	short := url(inA, time.Second)
	if !strings.Contains(short, "X-Amz-Expires=1&") {
		t.Fatalf("presigned URL has no X-Amz-Expires=1: %s", short)
	}
	time.Sleep(2500 * time.Millisecond)
	if status, body := httpGet(t, short); status != 403 || !strings.Contains(body, "Request has expired") {
		t.Errorf("GET presigned URL 2.5 s after it expired = %d %s, want 403 Request has expired", status, body)
	}
	if status, _ := httpGet(t, long); status != 200 {
		t.Errorf("GET the unexpired presigned URL again = %d, want 200", status)
	}
}

func TestTrustPolicyIsEnforced(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	assume := func(creds aws.Credentials, role string, seconds int32) error {
		_, err := s.STSClient(creds).AssumeRole(ctx(t), &sts.AssumeRoleInput{
			RoleArn:         aws.String(s.RoleARN(role)),
			RoleSessionName: aws.String("alice"),
			DurationSeconds: aws.Int32(seconds),
		})
		return err
	}
	wantError(t, "broker assumes a role that trusts only the admin", assume(s.BrokerCredentials(), "AdminOnly", 900), 403, "AccessDenied")
	if err := assume(s.AdminCredentials(), "AdminOnly", 900); err != nil {
		t.Errorf("admin assumes the role that trusts it: %v", err)
	}
	wantError(t, "broker assumes a role that does not exist", assume(s.BrokerCredentials(), "NoSuchRole", 900), 403, "AccessDenied")
	wrongSecret := s.BrokerCredentials()
	wrongSecret.SecretAccessKey = "not-the-secret-" + wrongSecret.SecretAccessKey[15:]
	wantError(t, "AssumeRole signed with a wrong secret", assume(wrongSecret, "TeamA", 900), 403, "SignatureDoesNotMatch")
	wantError(t, "AssumeRole for 899 s", assume(s.BrokerCredentials(), "TeamA", 899), 400, "InvalidParameterValue")
	wantError(t, "AssumeRole for 43201 s", assume(s.BrokerCredentials(), "TeamA", 43201), 400, "InvalidParameterValue")
	if err := assume(s.BrokerCredentials(), "TeamA", 43200); err != nil {
		t.Errorf("AssumeRole for 43200 s: %v", err)
	}
}

// SeaweedFS does not evaluate sts:ExternalId: a trust policy that
// requires it refuses the broker whatever ExternalId it sends, the right
// one included. Broker mode must check external IDs itself. Should this
// test fail, SeaweedFS has learnt them: update the package documentation.
func TestExternalIDConditionAlwaysDenies(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	for _, id := range []string{"org-1", "org-2", ""} {
		in := &sts.AssumeRoleInput{
			RoleArn:         aws.String(s.RoleARN("WithExternalID")),
			RoleSessionName: aws.String("alice"),
			DurationSeconds: aws.Int32(900),
		}
		if id != "" {
			in.ExternalId = aws.String(id)
		}
		_, err := s.STSClient(s.BrokerCredentials()).AssumeRole(ctx(t), in)
		wantError(t, "AssumeRole with ExternalId "+id, err, 403, "AccessDenied")
	}
}

// The rig cannot stand in for AWS's SAML federation: SeaweedFS has no
// AssumeRoleWithSAML.
func TestAssumeRoleWithSAMLIsUnsupported(t *testing.T) {
	t.Parallel()
	s := s3test.Shared(t, rig)
	_, err := s.STSClient(aws.Credentials{}).AssumeRoleWithSAML(ctx(t), &sts.AssumeRoleWithSAMLInput{
		RoleArn:       aws.String(s.RoleARN("TeamA")),
		PrincipalArn:  aws.String("arn:aws:iam::000000000000:saml-provider/glossa-idp"),
		SAMLAssertion: aws.String(base64.StdEncoding.EncodeToString([]byte("<samlp:Response/>"))),
	})
	wantError(t, "AssumeRoleWithSAML", err, 400, "InvalidAction")
}

// Sessions end when they expire, and presigned URLs made with them too,
// whatever their X-Amz-Expires. This test has a server of its own, whose
// sessions last 5 s.
func TestSessionExpires(t *testing.T) {
	t.Parallel()
	const maxSession = 5 * time.Second
	s := s3test.Start(t, s3test.Config{
		Roles:            []s3test.Role{{Name: "TeamA", Policy: teamAPolicy}},
		Buckets:          []string{"tasks"},
		MaxSessionLength: maxSession,
	})
	s.Put(t, "tasks", "teamA/in.json", []byte("task"))
	before := time.Now()
	_, creds := assumeRole(t, s, "TeamA", "") // asks for 900 s
	if creds.Expires.Before(before.Add(maxSession-time.Second)) || creds.Expires.After(time.Now().Add(maxSession+time.Second)) {
		t.Fatalf("session expires %v, want %v after %v", creds.Expires, maxSession, before)
	}
	sess := s.S3Client(creds)
	if _, err := getObject(t, sess, "tasks", "teamA/in.json"); err != nil {
		t.Fatalf("GetObject with the fresh session: %v", err)
	}
	req, err := s3.NewPresignClient(sess).PresignGetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String("tasks"), Key: aws.String("teamA/in.json")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := httpGet(t, req.URL); status != 200 {
		t.Fatalf("GET presigned URL of the fresh session = %d, want 200", status)
	}

	time.Sleep(time.Until(creds.Expires) + 1500*time.Millisecond)
	_, err = getObject(t, sess, "tasks", "teamA/in.json")
	wantError(t, "GetObject with the expired session", err, 403, "InvalidAccessKeyId")
	if status, body := httpGet(t, req.URL); status != 403 || !strings.Contains(body, "InvalidAccessKeyId") {
		t.Errorf("GET presigned URL (X-Amz-Expires 1 h) of the expired session = %d %s, want 403 InvalidAccessKeyId", status, body)
	}
}

// A stopped server refuses connections, as a store that is down does;
// restarted, it is the same store: same endpoint, same objects, and a
// session issued before the stop still works.
func TestStopAndRestart(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t, s3test.Config{Roles: []s3test.Role{{Name: "TeamA", Policy: teamAPolicy}}, Buckets: []string{"tasks"}})
	s.Put(t, "tasks", "teamA/in.json", []byte("task"))
	_, creds := assumeRole(t, s, "TeamA", "")
	sess := s.S3Client(creds)
	endpoint := s.Endpoint

	s.Stop()
	if _, err := getObject(t, sess, "tasks", "teamA/in.json"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("GetObject from the stopped server: %v, want connection refused", err)
	}

	s.Restart(t)
	if s.Endpoint != endpoint {
		t.Errorf("endpoint after the restart %s, want %s", s.Endpoint, endpoint)
	}
	if got, err := getObject(t, sess, "tasks", "teamA/in.json"); err != nil || string(got) != "task" {
		t.Errorf("GetObject with the session from before the stop = %q, %v; want the fixture", got, err)
	}
	if err := putObject(t, sess, "tasks", "teamA/out.json", []byte("x")); err != nil {
		t.Errorf("PutObject after the restart: %v", err)
	}
}
