package federation_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithy "github.com/aws/smithy-go"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/federation"
	"github.com/glossa-dev/glossa/internal/s3test"
	"github.com/glossa-dev/glossa/internal/samltest"
	"github.com/glossa-dev/glossa/internal/stsemu"
)

// These tests run the broker against a real S3 store and STS, SeaweedFS
// (internal/s3test; GLOSSA_TEST_WEED names the binary, scripts/weed.sh
// builds it). They are skipped without it, and fail under
// GLOSSA_TEST_REQUIRE_ALL.
//
// What SeaweedFS (v0.0.0-20261109003541-7506e5f91cd6) does with broker
// mode's AssumeRole, as TestBrokerSeaweed shows: it enforces the session
// Policy (role ∩ policy, including the s3:prefix condition of
// ListBucket), and it accepts SourceIdentity, the session tags and
// ExternalId but ignores them (they are neither in its answer nor in its
// session token, and its trust policies are not asked for
// sts:SetSourceIdentity or sts:TagSession as AWS's are). So the broker
// sends them to every STS, and nothing about them is configurable.

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// The rig: a bucket "tasks" with teamA/ and teamB/; the role TeamA may
// read and write the whole bucket (so that only a session policy can
// confine it to teamA/), the role Untrusted does not trust the broker.
var seaweedRig = s3test.Config{
	Roles: []s3test.Role{
		{Name: "TeamA", Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::tasks/*"]},
			{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::tasks"]}]}`},
		{Name: "Untrusted", Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::tasks/*"]}]}`,
			Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + s3test.AdminARN + `"},"Action":["sts:AssumeRole"]}]}`},
	},
	Buckets: []string{"tasks"},
}

func seaweed(t *testing.T) *s3test.Server {
	t.Helper()
	srv := s3test.Shared(t, seaweedRig)
	srv.Put(t, "tasks", "teamA/1.json", []byte(`{"text":"a"}`))
	srv.Put(t, "tasks", "teamB/1.json", []byte(`{"text":"b"}`))
	return srv
}

// stsRecorder keeps the form of every STS request sent through it.
type stsRecorder struct {
	mu    sync.Mutex
	forms []url.Values
}

func (r *stsRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		if f, err := url.ParseQuery(string(b)); err == nil {
			r.mu.Lock()
			r.forms = append(r.forms, f)
			r.mu.Unlock()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *stsRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.forms)
}

func (r *stsRecorder) forRole(role string) url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.forms {
		if f.Get("RoleArn") == role {
			return f
		}
	}
	return nil
}

// s3Client is an S3 client acting with c, as the connector would.
func s3Client(srv *s3test.Server, c glossa.Credentials) *s3.Client {
	return srv.S3Client(aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		CanExpire: true, Expires: c.Expires})
}

// access tries what a storage does: read, write, list.
type access struct {
	t   *testing.T
	c   *s3.Client
	ctx context.Context
}

func (a access) get(key string) error {
	out, err := a.c.GetObject(a.ctx, &s3.GetObjectInput{Bucket: aws.String("tasks"), Key: aws.String(key)})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func (a access) put(key string) error {
	_, err := a.c.PutObject(a.ctx, &s3.PutObjectInput{Bucket: aws.String("tasks"), Key: aws.String(key), Body: strings.NewReader("{}")})
	return err
}

func (a access) list(prefix string) error {
	_, err := a.c.ListObjectsV2(a.ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tasks"), Prefix: aws.String(prefix)})
	return err
}

func (a access) allowed(what string, err error) {
	a.t.Helper()
	if err != nil {
		a.t.Errorf("%s: %v, want allowed", what, err)
	}
}

func (a access) denied(what string, err error) {
	a.t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) || ae.ErrorCode() != "AccessDenied" || re.HTTPStatusCode() != 403 {
		a.t.Errorf("%s: err = %v, want 403 AccessDenied", what, err)
	}
}

// TestBrokerSeaweed: broker mode end to end. At sign-in Glossa's principal
// assumes the role the person's group maps to, with the person as session
// name, source identity and tags and a session policy for the storage's
// prefix; the credentials read and write that prefix and nothing else,
// although the role itself may do more.
func TestBrokerSeaweed(t *testing.T) {
	srv := seaweed(t)
	base := glossa.Storage{OrgID: orgID, Type: glossa.StorageSource, Bucket: "tasks", Prefix: "teamA",
		AuthMode: glossa.AuthBroker, RegionName: srv.Region, S3Endpoint: srv.Endpoint, STSEndpoint: srv.Endpoint}
	st := base
	st.ID = 10
	st.BrokerRoles = []glossa.GroupMapping{{Name: srv.RoleARN("Nobody"), Group: "team-z"}, {Name: srv.RoleARN("TeamA"), Group: "team-a"}}
	untrusted := base
	untrusted.ID = 11
	untrusted.BrokerRoles = []glossa.GroupMapping{{Name: srv.RoleARN("Untrusted"), Group: "team-a"}}
	store := &fakeStore{storages: []glossa.Storage{st, untrusted}}
	audit := &auditLog{}
	rec := &stsRecorder{}
	b := &federation.Broker{Store: store, Sealer: newSealer(t), Audit: audit, HTTPClient: &http.Client{Transport: rec},
		Principal: credentials.NewStaticCredentialsProvider(srv.BrokerKey, srv.BrokerSecret, "")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	id := &glossa.SAMLIdentity{IdPEntityID: idpEntity, NameID: "u-4711", Email: email, Groups: []string{"annotators", "team-a"}}
	err := b.AfterSSO(ctx, member(), id, "")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || strings.Contains(err.Error(), "storage/10") {
		t.Errorf("AfterSSO = %v, want only the untrusted role refused", err)
	}

	// What was asked of STS.
	f := rec.forRole(srv.RoleARN("TeamA"))
	if f == nil {
		t.Fatal("no AssumeRole for TeamA")
	}
	for k, want := range map[string]string{
		"Action": "AssumeRole", "RoleSessionName": email, "SourceIdentity": email, "DurationSeconds": "3600",
		"Tags.member.1.Key": "glossa-email", "Tags.member.1.Value": email,
		"Tags.member.2.Key": "glossa-groups", "Tags.member.2.Value": "annotators:team-a",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
		}
	}
	if p := f.Get("Policy"); !strings.Contains(p, `"arn:aws:s3:::tasks/teamA/*"`) || !strings.Contains(p, `"s3:prefix":["teamA/*"]`) {
		t.Errorf("AssumeRole Policy = %s", p)
	}

	creds, err := b.Credentials(ctx, &st, userID)
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	if d := time.Until(creds.Expires); d < 59*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("credentials expire in %v, want about an hour", d)
	}
	if got := b.RoleARN(ctx, &st, userID); got != srv.RoleARN("TeamA") {
		t.Errorf("RoleARN = %q, want TeamA", got)
	}
	a := access{t, s3Client(srv, creds), ctx}
	a.allowed("get teamA/1.json", a.get("teamA/1.json"))
	a.allowed("put teamA/export-1.json", a.put("teamA/export-1.json"))
	a.allowed("list teamA/", a.list("teamA/"))
	// The role may do all of these; the session policy may not.
	a.denied("get teamB/1.json", a.get("teamB/1.json"))
	a.denied("put teamB/export-1.json", a.put("teamB/export-1.json"))
	a.denied("list teamB/", a.list("teamB/"))
	a.denied("list the whole bucket", a.list(""))
	a.denied("get teamAB/1.json (a sibling folder, outside the prefix)", a.get("teamAB/1.json"))

	_, err = b.Credentials(ctx, &untrusted, userID)
	wantError(t, "untrusted role", err, glossa.EFORBIDDEN, "trust policy", "sts:AssumeRole")
	if pc := store.get(t, "storage/11"); pc.ErrorCode != "AccessDenied" {
		t.Errorf("recorded %+v", pc)
	}
	if e := audit.byTarget(t, srv.RoleARN("TeamA")); e.Outcome != glossa.OutcomeSuccess || e.Detail["key"] != "storage/10" || e.Detail["mode"] != "broker" {
		t.Errorf("audit event = %+v", e)
	}
	if e := audit.byTarget(t, srv.RoleARN("Untrusted")); e.Outcome != glossa.OutcomeFailure || e.Reason != "AccessDenied" {
		t.Errorf("audit event = %+v", e)
	}
}

// TestAssumeRoleSeaweed: assume_role mode assumes the storage's role as
// Glossa's principal, once, and reuses the session until a minute before
// it expires, concurrent callers included; the session has the role's
// rights (no session policy in the shared modes).
func TestAssumeRoleSeaweed(t *testing.T) {
	srv := seaweed(t)
	st := &glossa.Storage{ID: 20, OrgID: orgID, Bucket: "tasks", Prefix: "teamA", AuthMode: glossa.AuthAssumeRole,
		RoleARN: srv.RoleARN("TeamA"), ExternalID: "ext-1", SessionDuration: 900,
		RegionName: srv.Region, S3Endpoint: srv.Endpoint, STSEndpoint: srv.Endpoint}
	rec := &stsRecorder{}
	var offset time.Duration
	var mu sync.Mutex
	b := &federation.Broker{Store: &fakeStore{}, Sealer: newSealer(t), HTTPClient: &http.Client{Transport: rec},
		Principal: credentials.NewStaticCredentialsProvider(srv.BrokerKey, srv.BrokerSecret, ""),
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return time.Now().Add(offset)
		}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	got := make([]glossa.Credentials, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = b.Credentials(ctx, st, 0) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("caller %d: %+v, %v; want the one session %+v", i, got[i], errs[i], got[0])
		}
	}
	if n := rec.count(); n != 1 {
		t.Errorf("%d STS calls for 8 concurrent callers, want 1", n)
	}
	f := rec.forRole(st.RoleARN)
	if f.Get("ExternalId") != "ext-1" || f.Get("RoleSessionName") != "glossa-storage-20" || f.Get("DurationSeconds") != "900" || f.Get("Policy") != "" {
		t.Errorf("AssumeRole form = %v", f)
	}
	if err := b.CheckAccess(ctx, st, 0); err != nil {
		t.Errorf("CheckAccess = %v", err)
	}
	if got := b.RoleARN(ctx, st, 0); got != st.RoleARN {
		t.Errorf("RoleARN = %q", got)
	}
	a := access{t, s3Client(srv, got[0]), ctx}
	a.allowed("get teamA/1.json", a.get("teamA/1.json"))
	a.allowed("get teamB/1.json (the role's rights)", a.get("teamB/1.json"))

	// Within a minute of expiry: a new session.
	mu.Lock()
	offset = time.Until(got[0].Expires) - 50*time.Second
	mu.Unlock()
	again, err := b.Credentials(ctx, st, 0)
	if err != nil || again.AccessKeyID == got[0].AccessKeyID || rec.count() != 2 {
		t.Errorf("near expiry: %+v, %v (%d calls); want a new session", again, err, rec.count())
	}

	bad := *st
	bad.ID, bad.RoleARN = 21, srv.RoleARN("Untrusted")
	_, err = b.Credentials(ctx, &bad, 0)
	wantError(t, "untrusted role", err, glossa.EFORBIDDEN, "trust policy")
}

// TestSAMLSeaweed: saml_federated end to end: the IdP's signed response,
// exchanged at the STS emulator (checking it as AWS would), which obtains
// the session from SeaweedFS; the person's credentials then read what the
// role may read.
func TestSAMLSeaweed(t *testing.T) {
	srv := seaweed(t)
	testIdP(t)
	prov := "arn:aws:iam::" + s3test.AccountID + ":saml-provider/AcmeIdP"
	role := srv.RoleARN("TeamA")
	emu := &stsemu.Emulator{
		Account:   s3test.AccountID,
		Providers: []stsemu.Provider{{ARN: prov, Metadata: idp.Metadata()}},
		Roles: []stsemu.Role{{ARN: role, TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + prov +
			`"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"` + acs + `"}}}]}`}},
		Issuer: stsemu.SeaweedIssuer(srv.Endpoint, srv.Region, srv.BrokerKey, srv.BrokerSecret),
	}
	h := httptest.NewServer(emu)
	t.Cleanup(h.Close)
	st := glossa.Storage{ID: 30, OrgID: orgID, Bucket: "tasks", AuthMode: glossa.AuthSAMLFederated, RoleARN: role, PrincipalARN: prov,
		RegionName: srv.Region, S3Endpoint: srv.Endpoint, STSEndpoint: h.URL, SessionDuration: 900}
	b := &federation.Broker{Store: &fakeStore{storages: []glossa.Storage{st}}, Sealer: newSealer(t)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp := idp.Sign(t, samltest.Response{
		NameID: "u-4711", Recipient: acs, Audiences: []string{glossaEntity, samltest.AudienceAWS},
		Attributes: []samltest.Attribute{
			{Name: samltest.AttrRole, Values: []string{samltest.RolePair(prov, role)}},
			{Name: samltest.AttrRoleSessionName, Values: []string{email}},
		},
	})
	id := &glossa.SAMLIdentity{NameID: "u-4711", Email: email, Attributes: map[string][]string{samltest.AttrRole: {prov + "," + role}}}
	if err := b.AfterSSO(ctx, member(), id, resp); err != nil {
		t.Fatalf("AfterSSO: %v", err)
	}
	creds, err := b.Credentials(ctx, &st, userID)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(creds.Expires); d < 14*time.Minute || d > 15*time.Minute {
		t.Errorf("credentials expire in %v, want 15m", d)
	}
	a := access{t, s3Client(srv, creds), ctx}
	a.allowed("get teamA/1.json", a.get("teamA/1.json"))
	a.allowed("list teamA/", a.list("teamA/"))
}
