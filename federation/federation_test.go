package federation_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	smithy "github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/federation"
	"github.com/glossa-dev/glossa/internal/samltest"
	"github.com/glossa-dev/glossa/internal/stsemu"
)

func TestParseRolePairs(t *testing.T) {
	gov := federation.RolePair{RoleARN: "arn:aws-us-gov:iam::" + account + ":role/Gov", PrincipalARN: "arn:aws-us-gov:iam::" + account + ":saml-provider/Gov"}
	cn := federation.RolePair{RoleARN: "arn:aws-cn:iam::" + account + ":role/path/to/Cn", PrincipalARN: "arn:aws-cn:iam::" + account + ":saml-provider/Cn"}
	a := federation.RolePair{RoleARN: roleA, PrincipalARN: provider}
	b := federation.RolePair{RoleARN: roleB, PrincipalARN: provider}
	for _, tc := range []struct {
		name   string
		values []string
		want   []federation.RolePair
	}{
		{"role first", []string{roleA + "," + provider}, []federation.RolePair{a}},
		{"provider first", []string{provider + "," + roleA}, []federation.RolePair{a}},
		{"whitespace around the comma and the value", []string{"  " + provider + " ,\t" + roleA + "\n"}, []federation.RolePair{a}},
		{"both orders mixed, order kept", []string{roleB + "," + provider, provider + "," + roleA}, []federation.RolePair{b, a}},
		{"other partitions, role path", []string{gov.PrincipalARN + "," + gov.RoleARN, cn.RoleARN + "," + cn.PrincipalARN}, []federation.RolePair{gov, cn}},
		{"duplicate in the other order", []string{roleA + "," + provider, provider + "," + roleA}, []federation.RolePair{a}},
		{"junk skipped", []string{
			"",
			roleA,                                   // no comma
			roleA + "," + roleB,                     // two roles
			provider + "," + provider2,              // two providers
			roleA + "," + provider + "," + roleB,    // three parts
			"arn:aws:iam::12345:role/X," + provider, // short account
			"arn:aws:s3:::bucket," + provider,       // not IAM
			"arn:other:iam::" + account + ":role/X," + provider, // unknown partition
			"TeamA,AcmeIdP",
			roleB + "," + provider, // the one good value
		}, []federation.RolePair{b}},
		{"nothing", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, federation.ParseRolePairs(tc.values)); diff != "" {
				t.Errorf("ParseRolePairs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExchangeParallel: one sign-in exchanges the response for each
// distinct role the org's per-person storages need, concurrently; storages
// naming one role share one credential; a provider-only storage gets the
// first role asserted for its provider; other modes are left alone. Later
// reads need no STS call.
func TestExchangeParallel(t *testing.T) {
	st2 := samlStorage(2, roleB, provider)
	st2.SessionDuration = 900
	r := newRig(t,
		samlStorage(1, roleA, provider),
		st2,
		samlStorage(3, roleA, provider), // shares roleA with storage 1
		glossa.Storage{ID: 4, OrgID: orgID, AuthMode: glossa.AuthStatic},
		samlStorage(5, "", provider), // whichever role the assertion names for the provider: roleB, the first
		glossa.Storage{ID: 6, OrgID: orgID + 1, AuthMode: glossa.AuthSAMLFederated, RoleARN: roleC, PrincipalARN: provider}, // another org
	)
	r.issuer.parallel, r.issuer.all = 3, make(chan struct{})
	l := r.signIn(t, []string{provider + "," + roleB, roleA + ", " + provider}, nil)

	start := time.Now()
	if err := r.afterSSO(t, l); err != nil {
		t.Fatalf("AfterSSO: %v", err)
	}
	t.Logf("three exchanges in %v", time.Since(start))
	if n := r.calls.n.Load(); n != 3 {
		t.Errorf("%d STS calls, want 3 (roleA, roleB, provider)", n)
	}
	if got := len(r.issuer.byRole(roleA)); got != 1 {
		t.Errorf("roleA exchanged %d times, want 1", got)
	}
	if got := r.issuer.byRole(roleB); len(got) != 2 || got[0].Duration+got[1].Duration != 15*time.Minute+time.Hour {
		t.Errorf("roleB exchanges = %+v, want one of 900 s (storage 2) and one of 3600 s (storage 5)", got)
	}

	ctx := context.Background()
	creds := map[int64]glossa.Credentials{}
	for _, id := range []int64{1, 2, 3, 5} {
		s := r.store.storage(t, id)
		c, err := r.b.Credentials(ctx, s, userID)
		if err != nil {
			t.Fatalf("Credentials(storage %d): %v", id, err)
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || c.Expires.IsZero() {
			t.Errorf("storage %d: incomplete credentials %+v", id, c)
		}
		if err := r.b.CheckAccess(ctx, s, userID); err != nil {
			t.Errorf("CheckAccess(storage %d) = %v", id, err)
		}
		creds[id] = c
	}
	if creds[1] != creds[3] {
		t.Errorf("storages 1 and 3 name one role but got different credentials")
	}
	if creds[1].AccessKeyID == creds[2].AccessKeyID || creds[2].AccessKeyID == creds[5].AccessKeyID {
		t.Errorf("distinct keys share credentials: %v", creds)
	}
	if d := time.Until(creds[2].Expires); d < 14*time.Minute || d > 15*time.Minute {
		t.Errorf("storage 2 expires in %v, want its session_duration of 15m", d)
	}
	for id, want := range map[int64]string{1: roleA, 2: roleB, 3: roleA, 5: roleB} {
		if got := r.b.RoleARN(ctx, r.store.storage(t, id), userID); got != want {
			t.Errorf("RoleARN(storage %d) = %q, want %q", id, got, want)
		}
	}
	if n := r.calls.n.Load(); n != 3 {
		t.Errorf("reading credentials called STS: %d calls in all, want 3", n)
	}
	if pc := r.store.get(t, "provider:"+provider); pc.ErrorCode != "" || len(pc.Sealed) == 0 {
		t.Errorf("the provider-keyed credential = %+v", pc)
	}

	// Audit: one success per exchange, naming the role and the storages.
	e := r.audit.byTarget(t, roleA)
	if e.Outcome != glossa.OutcomeSuccess || e.Detail["key"] != roleA || !slices.Equal(e.Detail["storages"].([]int64), []int64{1, 3}) {
		t.Errorf("roleA audit event = %+v", e)
	}
	if exp, ok := e.Detail["expires"].(time.Time); !ok || !exp.Equal(creds[1].Expires) {
		t.Errorf("audit expires = %v, want %v", e.Detail["expires"], creds[1].Expires)
	}
	if n := len(r.audit.events); n != 3 {
		t.Errorf("%d audit events, want 3", n)
	}
}

// TestRoleNotAsserted: a storage whose role the assertion does not carry
// gets a recorded failure, without a call to STS, and its readers a
// sentence saying what to do.
func TestRoleNotAsserted(t *testing.T) {
	r := newRig(t, samlStorage(1, roleA, provider), samlStorage(2, roleC, provider), samlStorage(3, "", provider2))
	l := r.signIn(t, []string{roleA + "," + provider}, nil)
	err := r.afterSSO(t, l)
	if err == nil || !strings.Contains(err.Error(), federation.CodeRoleNotAsserted) {
		t.Errorf("AfterSSO = %v, want the failures reported", err)
	}
	if len(r.issuer.byRole(roleC)) != 0 || r.calls.n.Load() != 1 {
		t.Errorf("STS was called for a role not asserted (%d calls)", r.calls.n.Load())
	}
	ctx := context.Background()
	if _, err := r.b.Credentials(ctx, r.store.storage(t, 1), userID); err != nil {
		t.Errorf("the asserted role: %v", err)
	}
	_, err = r.b.Credentials(ctx, r.store.storage(t, 2), userID)
	wantError(t, "role not asserted", err, glossa.EFORBIDDEN, "did not assert the role "+roleC, "sign in again")
	wantError(t, "CheckAccess", r.b.CheckAccess(ctx, r.store.storage(t, 2), userID), glossa.EFORBIDDEN, roleC)
	_, err = r.b.Credentials(ctx, r.store.storage(t, 3), userID)
	wantError(t, "no role for the provider", err, glossa.EFORBIDDEN, "no AWS role of the SAML provider "+provider2)

	if pc := r.store.get(t, roleC); pc.ErrorCode != federation.CodeRoleNotAsserted || len(pc.Sealed) != 0 {
		t.Errorf("recorded %+v", pc)
	}
	e := r.audit.byTarget(t, roleC)
	if e.Outcome != glossa.OutcomeFailure || e.Reason != federation.CodeRoleNotAsserted {
		t.Errorf("audit event = %+v", e)
	}
}

// TestSTSRefusals: what the emulator refuses, as AWS would, is recorded
// with STS's code, and the storage says in Glossa's words (never STS's)
// what to fix.
func TestSTSRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		emu      func(*stsemu.Emulator)
		saml     func(*samltest.Response, *glossa.SAMLIdentity)
		code     string
		says     []string
		stsWords string
	}{
		{
			name: "trust policy wants the AWS sign-in URL as SAML:aud",
			emu:  func(e *stsemu.Emulator) { e.Roles[0].TrustPolicy = trust("https://signin.aws.amazon.com/saml") },
			code: "AccessDenied", says: []string{"trust policy", "SAML:aud", "ACS"}, stsWords: stsemu.MsgNotAuthorized,
		},
		{
			name: "IAM provider metadata holds another key (stale after a rollover)",
			emu:  func(e *stsemu.Emulator) { e.Providers[0].Metadata = idpRe.Metadata() },
			code: "InvalidIdentityToken", says: []string{"metadata", "update-saml-provider"}, stsWords: stsemu.MsgSignatureInvalid,
		},
		{
			name: "no RoleSessionName",
			saml: func(r *samltest.Response, _ *glossa.SAMLIdentity) { r.Attributes = r.Attributes[:1] },
			code: "InvalidIdentityToken", says: []string{"RoleSessionName"}, stsWords: stsemu.MsgRoleSessionNameRequired,
		},
		{
			name: "redeemed more than 5 minutes after issue",
			saml: func(r *samltest.Response, _ *glossa.SAMLIdentity) {
				r.IssueInstant = time.Now().Add(-6 * time.Minute)
				r.Lifetime = 10 * time.Minute
			},
			code: "ExpiredTokenException", says: []string{"expired", "5 minutes"}, stsWords: stsemu.MsgRedeemWithin5Min,
		},
		{
			name: "no AWS audience",
			saml: func(r *samltest.Response, _ *glossa.SAMLIdentity) { r.Audiences = []string{glossaEntity} },
			code: "InvalidIdentityToken", says: []string{"urn:amazon:webservices"}, stsWords: stsemu.MsgAudience,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, samlStorage(1, roleA, provider))
			if tc.emu != nil {
				tc.emu(r.emu)
			}
			l := r.signIn(t, []string{roleA + "," + provider}, tc.saml)
			if err := r.afterSSO(t, l); err == nil {
				t.Error("AfterSSO succeeded")
			}
			pc := r.store.get(t, roleA)
			if pc.ErrorCode != tc.code || len(pc.Sealed) != 0 {
				t.Errorf("recorded code %q (sealed %d bytes), want %q", pc.ErrorCode, len(pc.Sealed), tc.code)
			}
			if d := time.Until(pc.Expires); d < 59*time.Minute || d > time.Hour {
				t.Errorf("failure remembered for %v, want 1h", d)
			}
			_, err := r.b.Credentials(context.Background(), r.store.storage(t, 1), userID)
			wantError(t, "Credentials", err, glossa.EFORBIDDEN, tc.says...)
			if err != nil && strings.Contains(glossa.ErrorMessage(err), tc.stsWords) {
				t.Errorf("the message repeats STS's own words %q", tc.stsWords)
			}
			e := r.audit.byTarget(t, roleA)
			if e.Outcome != glossa.OutcomeFailure || e.Reason != tc.code || e.Detail["message"] != pc.ErrorMessage {
				t.Errorf("audit event = %+v", e)
			}
		})
	}
}

// TestDurationAboveRoleMax: STS refuses a session_duration above the
// role's MaxSessionDuration (an error, not a clamp); the broker asks once
// more for the default hour, which every role allows.
func TestDurationAboveRoleMax(t *testing.T) {
	st := samlStorage(1, roleA, provider) // MaxSessionDuration 1 h
	st.SessionDuration = 7200
	long := samlStorage(2, roleLong, provider)
	long.SessionDuration = 7200
	r := newRig(t, st, long)
	l := r.signIn(t, []string{roleA + "," + provider, roleLong + "," + provider}, nil)
	if err := r.afterSSO(t, l); err != nil {
		t.Fatalf("AfterSSO: %v", err)
	}
	if got := r.issuer.byRole(roleA); len(got) != 1 || got[0].Duration != time.Hour {
		t.Errorf("issued for roleA: %+v, want one session of 1h", got)
	}
	if got := r.issuer.byRole(roleLong); len(got) != 1 || got[0].Duration != 2*time.Hour {
		t.Errorf("issued for the long role: %+v, want one session of 2h", got)
	}
	if n := r.calls.n.Load(); n != 3 {
		t.Errorf("%d STS calls, want 3 (refused, retried, long)", n)
	}
}

// TestExpiry: credentials expire at the sooner of STS's Expiration and
// the IdP session's end; near or past it they are EREAUTH, as is having
// none.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	t.Run("SessionNotOnOrAfter sooner", func(t *testing.T) {
		r := newRig(t, samlStorage(1, roleA, provider))
		end := time.Now().Add(10 * time.Minute).Truncate(time.Second)
		l := r.signIn(t, []string{roleA + "," + provider}, func(_ *samltest.Response, id *glossa.SAMLIdentity) {
			id.SessionNotOnOrAfter = &end // the SP's reading; STS itself gives an hour
		})
		if err := r.afterSSO(t, l); err != nil {
			t.Fatal(err)
		}
		if got := r.store.get(t, roleA).Expires; !got.Equal(end) {
			t.Errorf("Expires = %v, want SessionNotOnOrAfter %v", got, end)
		}
		c, err := r.b.Credentials(ctx, r.store.storage(t, 1), userID)
		if err != nil || !c.Expires.Equal(end) {
			t.Errorf("Credentials = %+v, %v; want expiry %v", c, err, end)
		}
	})
	t.Run("STS sooner", func(t *testing.T) {
		r := newRig(t, samlStorage(1, roleA, provider))
		r.issuer.expires = time.Now().Add(15 * time.Minute).Truncate(time.Second)
		end := time.Now().Add(time.Hour)
		l := r.signIn(t, []string{roleA + "," + provider}, func(_ *samltest.Response, id *glossa.SAMLIdentity) { id.SessionNotOnOrAfter = &end })
		if err := r.afterSSO(t, l); err != nil {
			t.Fatal(err)
		}
		if got := r.store.get(t, roleA).Expires; !got.Equal(r.issuer.expires) {
			t.Errorf("Expires = %v, want STS's %v", got, r.issuer.expires)
		}
	})
	t.Run("expired is EREAUTH", func(t *testing.T) {
		r := newRig(t, samlStorage(1, roleA, provider), samlStorage(2, roleB, provider))
		s := r.store.storage(t, 1)
		_, err := r.b.Credentials(ctx, s, userID)
		wantError(t, "before any sign-in", err, glossa.EREAUTH, "sign in")

		l := r.signIn(t, []string{roleA + "," + provider}, nil)
		_ = r.afterSSO(t, l) // roleB not asserted
		expires := r.store.get(t, roleA).Expires
		for _, tc := range []struct {
			at   time.Time
			want string
		}{
			{expires.Add(-time.Minute), ""},
			{expires.Add(-20 * time.Second), glossa.EREAUTH}, // within the 30 s margin
			{expires.Add(time.Second), glossa.EREAUTH},
		} {
			r.offset.Store(int64(time.Until(tc.at)))
			_, err := r.b.Credentials(ctx, s, userID)
			if got := glossa.ErrorCode(err); got != tc.want {
				t.Errorf("at expiry%+v: code %q (%v), want %q", tc.at.Sub(expires).Round(time.Second), got, err, tc.want)
			}
			if got := glossa.ErrorCode(r.b.CheckAccess(ctx, s, userID)); got != tc.want {
				t.Errorf("CheckAccess at expiry%+v: %q, want %q", tc.at.Sub(expires).Round(time.Second), got, tc.want)
			}
			if tc.want != "" {
				wantError(t, "expired", err, glossa.EREAUTH, "expired", "sign in again")
			}
		}
		// A failure, once its hour is over, asks for a new sign-in too.
		r.offset.Store(int64(2 * time.Hour))
		_, err = r.b.Credentials(ctx, r.store.storage(t, 2), userID)
		wantError(t, "old failure", err, glossa.EREAUTH)
	})
}

// TestResponseNeverStored: neither the SAML response nor anything of it
// (its signature, its XML) reaches the store, sealed or not, the audit
// log or the logs.
func TestResponseNeverStored(t *testing.T) {
	r := newRig(t, samlStorage(1, roleA, provider), samlStorage(2, roleC, provider))
	r.emu.Roles[0].TrustPolicy = trust(acs) // success for roleA
	l := r.signIn(t, []string{roleA + "," + provider}, nil)
	_ = r.afterSSO(t, l)
	// A refused exchange too.
	r.emu.Roles[0].TrustPolicy = trust("https://elsewhere.example/acs")
	l2 := r.signIn(t, []string{roleA + "," + provider}, nil)
	_ = r.afterSSO(t, l2)

	xml, err := base64.StdEncoding.DecodeString(l.response)
	if err != nil {
		t.Fatal(err)
	}
	sig := between(string(xml), "<ds:SignatureValue>", "</ds:SignatureValue>")
	if len(sig) < 100 {
		t.Fatalf("no signature found in the response")
	}
	needles := []string{l.response[:64], l.response[len(l.response)-64:], l2.response[:64], sig[:40], "samlp:Response", "AttributeStatement"}
	var haystacks []string
	for _, pc := range r.store.saved {
		haystacks = append(haystacks, string(pc.Sealed), pc.Key, pc.ErrorCode, pc.ErrorMessage)
	}
	if len(r.store.saved) != 4 {
		t.Errorf("%d saves, want 4", len(r.store.saved))
	}
	r.sealer.mu.Lock()
	for _, p := range r.sealer.sealed {
		haystacks = append(haystacks, string(p))
		if !bytes.Contains(p, []byte("ASIA")) {
			t.Errorf("a sealed value holds no credentials: %q", p)
		}
	}
	r.sealer.mu.Unlock()
	if len(r.sealer.sealed) == 0 {
		t.Fatal("nothing was sealed")
	}
	events, _ := json.Marshal(r.audit.events)
	haystacks = append(haystacks, string(events), r.logs.String())
	for _, h := range haystacks {
		for _, n := range needles {
			if strings.Contains(h, n) {
				t.Errorf("stored or logged text contains %q of the SAML response", n)
			}
		}
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// TestSTSUnreachable: a hanging or absent STS costs the sign-in at most
// ExchangeTimeout; the failure is recorded and explained, and valid
// credentials of an earlier sign-in are kept (a refusal, by contrast,
// replaces them).
func TestSTSUnreachable(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice that the
		// client went away and cancel the request's context.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name, endpoint, code, says string
		timeout                    time.Duration
	}{
		{"hanging", hang.URL, federation.CodeTimeout, "timed out", 300 * time.Millisecond},
		{"connection refused", closed, federation.CodeUnreachable, "could not reach", 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := samlStorage(1, roleA, provider)
			st.STSEndpoint = tc.endpoint
			r := newRig(t, st, samlStorage(2, roleB, provider))
			r.b.ExchangeTimeout = tc.timeout
			l := r.signIn(t, []string{roleA + "," + provider, roleB + "," + provider}, nil)
			start := time.Now()
			err := r.afterSSO(t, l)
			took := time.Since(start)
			if err == nil {
				t.Error("AfterSSO succeeded")
			}
			if took > tc.timeout+time.Second {
				t.Errorf("AfterSSO took %v with an ExchangeTimeout of %v", took, tc.timeout)
			}
			pc := r.store.get(t, roleA)
			if pc.ErrorCode != tc.code {
				t.Errorf("recorded code %q, want %q", pc.ErrorCode, tc.code)
			}
			_, err = r.b.Credentials(context.Background(), r.store.storage(t, 1), userID)
			wantError(t, "Credentials", err, glossa.EFORBIDDEN, tc.says, "sts_endpoint")
			// The other storage's STS answered.
			if _, err := r.b.Credentials(context.Background(), r.store.storage(t, 2), userID); err != nil {
				t.Errorf("roleB, whose STS answered: %v", err)
			}
			if e := r.audit.byTarget(t, roleA); e.Outcome != glossa.OutcomeFailure || e.Reason != tc.code {
				t.Errorf("audit event = %+v", e)
			}
		})
	}

	t.Run("earlier credentials kept, until a refusal", func(t *testing.T) {
		r := newRig(t, samlStorage(1, roleA, provider))
		ctx := context.Background()
		if err := r.afterSSO(t, r.signIn(t, []string{roleA + "," + provider}, nil)); err != nil {
			t.Fatal(err)
		}
		before, err := r.b.Credentials(ctx, r.store.storage(t, 1), userID)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh broker, as another process would be, on the same store.
		b2 := &federation.Broker{Store: r.store, Sealer: r.sealer, Audit: r.audit, STSEndpoint: hang.URL, ExchangeTimeout: 200 * time.Millisecond}
		if err := b2.AfterSSO(ctx, member(), r.signIn(t, []string{roleA + "," + provider}, nil).id, "PHNhbWxwOlJlc3BvbnNlLz4="); err == nil {
			t.Error("AfterSSO succeeded against a hanging STS")
		}
		after, err := b2.Credentials(ctx, r.store.storage(t, 1), userID)
		if err != nil || after != before {
			t.Errorf("after a timed-out exchange: %+v, %v; want the earlier credentials kept", after, err)
		}
		var kept bool
		for _, e := range r.audit.events {
			kept = kept || (e.Outcome == glossa.OutcomeFailure && e.Detail["kept_previous"] == true)
		}
		if !kept {
			t.Errorf("the audit log does not say the earlier credentials were kept: %+v", r.audit.events)
		}
		// The IdP no longer asserts the role: access ends.
		if err := b2.AfterSSO(ctx, member(), r.signIn(t, []string{roleB + "," + provider}, nil).id, "PHNhbWxwOlJlc3BvbnNlLz4="); err == nil {
			t.Error("AfterSSO succeeded without the role")
		}
		_, err = b2.Credentials(ctx, r.store.storage(t, 1), userID)
		wantError(t, "role withdrawn", err, glossa.EFORBIDDEN, "did not assert")
	})
}

// TestStatic: a static secret is sealed bound to its organization, opens
// there and nowhere else.
func TestStatic(t *testing.T) {
	b := &federation.Broker{Store: &fakeStore{}, Sealer: newSealer(t)}
	ctx := context.Background()
	s := &glossa.Storage{ID: 1, OrgID: orgID, AuthMode: glossa.AuthStatic, AccessKeyID: "AKIASTATIC"}
	const secretKey, token = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "static-session-token"
	if err := b.SealStaticSecret(s, secretKey, token); err != nil {
		t.Fatal(err)
	}
	if len(s.SealedSecret) == 0 || bytes.Contains(s.SealedSecret, []byte(secretKey)) || bytes.Contains(s.SealedSecret, []byte(token)) {
		t.Fatalf("SealedSecret = %q", s.SealedSecret)
	}
	c, err := b.Credentials(ctx, s, userID)
	if want := (glossa.Credentials{AccessKeyID: "AKIASTATIC", SecretAccessKey: secretKey, SessionToken: token}); err != nil || c != want {
		t.Errorf("Credentials = %+v, %v; want %+v", c, err, want)
	}
	if err := b.CheckAccess(ctx, s, userID); err != nil {
		t.Errorf("CheckAccess = %v", err)
	}

	other := *s
	other.OrgID = orgID + 1 // the sealed value copied into another org's storage
	_, err = b.Credentials(ctx, &other, userID)
	wantError(t, "another org", err, glossa.EFORBIDDEN, "enter it again")
	if err != nil && strings.Contains(glossa.ErrorMessage(err), secretKey) {
		t.Error("the message shows the secret")
	}
	wantError(t, "CheckAccess, another org", b.CheckAccess(ctx, &other, userID), glossa.EFORBIDDEN)

	tampered := *s
	tampered.SealedSecret = bytes.Clone(s.SealedSecret)
	tampered.SealedSecret[len(tampered.SealedSecret)-1] ^= 1
	_, err = b.Credentials(ctx, &tampered, userID)
	wantError(t, "tampered", err, glossa.EFORBIDDEN)

	none := glossa.Storage{ID: 2, OrgID: orgID, AuthMode: glossa.AuthStatic}
	_, err = b.Credentials(ctx, &none, userID)
	wantError(t, "no key", err, glossa.EFORBIDDEN, "aws_access_key_id")

	if err := b.SealStaticSecret(&glossa.Storage{}, secretKey, ""); err == nil {
		t.Error("sealed a secret for a storage without an organization")
	}
}

// TestNoPrincipal: without an AWS identity of its own, Glossa says so for
// assume_role storages, and records it for broker storages at sign-in.
func TestNoPrincipal(t *testing.T) {
	store := &fakeStore{storages: []glossa.Storage{{ID: 1, OrgID: orgID, AuthMode: glossa.AuthBroker, Bucket: "tasks",
		BrokerRoles: []glossa.GroupMapping{{Name: roleA, Group: "annotators"}}}}}
	audit := &auditLog{}
	b := &federation.Broker{Store: store, Sealer: newSealer(t), Audit: audit}
	ctx := context.Background()
	ar := &glossa.Storage{ID: 2, OrgID: orgID, AuthMode: glossa.AuthAssumeRole, RoleARN: roleA}
	_, err := b.Credentials(ctx, ar, userID)
	wantError(t, "assume_role", err, glossa.EFORBIDDEN, "no AWS credentials configured")
	wantError(t, "assume_role CheckAccess", b.CheckAccess(ctx, ar, userID), glossa.EFORBIDDEN, "no AWS credentials configured")

	id := &glossa.SAMLIdentity{NameID: "u-4711", Email: email, Groups: []string{"annotators"}}
	if err := b.AfterSSO(ctx, member(), id, "PHNhbWxwOlJlc3BvbnNlLz4="); err == nil {
		t.Error("AfterSSO succeeded")
	}
	_, err = b.Credentials(ctx, &store.storages[0], userID)
	wantError(t, "broker", err, glossa.EFORBIDDEN, "no AWS credentials configured")
	if e := audit.byTarget(t, roleA); e.Reason != federation.CodeNoPrincipal || e.Detail["key"] != "storage/1" {
		t.Errorf("audit event = %+v", e)
	}
}

// TestBrokerNoGroup: a person none of whose groups maps to a role gets a
// recorded failure and no call to STS.
func TestBrokerNoGroup(t *testing.T) {
	calls := &counter{}
	store := &fakeStore{storages: []glossa.Storage{
		{ID: 1, OrgID: orgID, AuthMode: glossa.AuthBroker, Bucket: "tasks",
			BrokerRoles: []glossa.GroupMapping{{Name: roleA, Group: "team-a"}, {Name: roleB, Group: "team-b"}}},
		{ID: 2, OrgID: orgID, AuthMode: glossa.AuthBroker, Bucket: "tasks"}, // no mapping at all
	}}
	b := &federation.Broker{Store: store, Sealer: newSealer(t), STSEndpoint: "http://127.0.0.1:1",
		HTTPClient: &http.Client{Transport: calls},
		Principal:  credentials.NewStaticCredentialsProvider("AKIABROKER", "broker-secret", "")}
	id := &glossa.SAMLIdentity{NameID: "u-4711", Email: email, Groups: []string{"team-c"}}
	if err := b.AfterSSO(context.Background(), member(), id, "PHNhbWxwOlJlc3BvbnNlLz4="); err == nil {
		t.Error("AfterSSO succeeded")
	}
	if n := calls.n.Load(); n != 0 {
		t.Errorf("%d STS calls, want none", n)
	}
	_, err := b.Credentials(context.Background(), &store.storages[0], userID)
	wantError(t, "no group", err, glossa.EFORBIDDEN, "None of your identity-provider groups")
	_, err = b.Credentials(context.Background(), &store.storages[1], userID)
	wantError(t, "no mapping", err, glossa.EFORBIDDEN, "broker_roles")
}

// TestMisconfigured: a saml_federated storage naming neither role nor
// provider is EFORBIDDEN (an Owner must fix it), never EREAUTH (signing
// in again would not help, and would loop).
func TestMisconfigured(t *testing.T) {
	b := &federation.Broker{Store: &fakeStore{}, Sealer: newSealer(t)}
	s := &glossa.Storage{ID: 1, OrgID: orgID, AuthMode: glossa.AuthSAMLFederated}
	_, err := b.Credentials(context.Background(), s, userID)
	wantError(t, "no role, no provider", err, glossa.EFORBIDDEN, "role_arn", "principal_arn")
	_, err = b.Credentials(context.Background(), &glossa.Storage{AuthMode: "kerberos"}, userID)
	wantError(t, "unknown mode", err, glossa.EFORBIDDEN, "kerberos")
}

// TestExplainSTS: each STS error gets an actionable sentence with the
// right code, and never STS's own text.
func TestExplainSTS(t *testing.T) {
	const leak = "arn:aws:iam::999988887777:user/internal-name"
	op := func(name string, err error) error {
		return &smithy.OperationError{ServiceID: "STS", OperationName: name, Err: err}
	}
	generic := func(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg + " " + leak} }
	for _, tc := range []struct {
		name string
		err  error
		code string
		says string
	}{
		{"signature", op("AssumeRoleWithSAML", &types.InvalidIdentityTokenException{Message: aws.String("Response signature invalid " + leak)}), glossa.EFORBIDDEN, "metadata"},
		{"no provider", op("AssumeRoleWithSAML", &types.InvalidIdentityTokenException{Message: aws.String("Specified provider doesn't exist " + leak)}), glossa.EFORBIDDEN, "principal_arn"},
		{"expired response", op("AssumeRoleWithSAML", &types.ExpiredTokenException{Message: aws.String("Response has expired " + leak)}), glossa.EFORBIDDEN, "5 minutes"},
		{"expired principal", op("AssumeRole", generic("ExpiredToken", "The security token included in the request is expired")), glossa.EFORBIDDEN, "Glossa's own AWS credentials have expired"},
		{"trust policy, SAML", op("AssumeRoleWithSAML", generic("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")), glossa.EFORBIDDEN, "sts:AssumeRoleWithSAML"},
		{"trust policy, AssumeRole", op("AssumeRole", generic("AccessDenied", "User is not authorized to perform: sts:AssumeRole")), glossa.EFORBIDDEN, "Glossa's AWS principal"},
		{"IdP rejected claim", op("AssumeRoleWithSAML", &types.IDPRejectedClaimException{Message: aws.String(leak)}), glossa.EFORBIDDEN, "claim"},
		{"malformed policy", op("AssumeRole", &types.MalformedPolicyDocumentException{Message: aws.String(leak)}), glossa.EINVALID, "session policy"},
		{"packed policy", op("AssumeRole", &types.PackedPolicyTooLargeException{Message: aws.String(leak)}), glossa.EINVALID, "too large"},
		{"duration above max", op("AssumeRoleWithSAML", generic("ValidationError", stsemu.MsgDurationExceedsMax)), glossa.EINVALID, "session_duration"},
		{"duration out of range", op("AssumeRoleWithSAML", generic("ValidationError", "1 validation error detected: Value '100' at 'durationSeconds' failed to satisfy constraint")), glossa.EINVALID, "between 900 and 43200"},
		{"bad ARN", op("AssumeRoleWithSAML", generic("ValidationError", "Request ARN is invalid")), glossa.EINVALID, "role_arn"},
		{"region disabled", op("AssumeRoleWithSAML", &types.RegionDisabledException{Message: aws.String(leak)}), glossa.EFORBIDDEN, "sts_endpoint"},
		{"throttled", op("AssumeRole", generic("Throttling", "Rate exceeded")), glossa.EUNAVAILABLE, "try again"},
		{"no SAML at this STS", op("AssumeRoleWithSAML", generic("InvalidAction", "unsupported action: AssumeRoleWithSAML")), glossa.EINVALID, "broker mode"},
		{"deadline", op("AssumeRoleWithSAML", &url.Error{Op: "Post", URL: "https://sts.eu-west-1.amazonaws.com/", Err: context.DeadlineExceeded}), glossa.EUNAVAILABLE, "timed out waiting for the STS endpoint sts.eu-west-1.amazonaws.com"},
		{"refused", op("AssumeRoleWithSAML", &url.Error{Op: "Post", URL: "http://10.0.0.9:8333/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}), glossa.EUNAVAILABLE, "could not reach the STS endpoint 10.0.0.9:8333"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := federation.ExplainSTS(tc.err)
			if got == nil || got.Code != tc.code || !strings.Contains(got.Message, tc.says) {
				t.Fatalf("ExplainSTS = %#v, want %s saying %q", got, tc.code, tc.says)
			}
			if strings.Contains(got.Message, "internal-name") || strings.Contains(got.Message, "999988887777") {
				t.Errorf("message shows STS's text: %q", got.Message)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("the original error is not kept for the logs")
			}
		})
	}
	if federation.ExplainSTS(nil) != nil {
		t.Error("ExplainSTS(nil) != nil")
	}
	ge := glossa.Errorf(glossa.EREAUTH, "sign in again")
	if got := federation.ExplainSTS(ge); got != ge {
		t.Errorf("a *glossa.Error is not passed through: %v", got)
	}
}
