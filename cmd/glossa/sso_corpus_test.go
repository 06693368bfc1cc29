package main

// The SAML attack corpus (internal/samlattack) through the real server:
// run() on SQLite, its organization's SAML settings made through the API,
// its own SP keys, real pending AuthnRequests, the HTTP ACS, sessions and
// the audit log. saml/corpus_test.go runs the same cases against the saml
// package alone; here each refusal must also leave no session, show the
// browser the page every refusal shows, and leave its reason in the audit
// log under the request ID that page names.
//
// The server makes and keeps its own SP keys, which stand for the
// fixture's: a case whose Setup gives the SP a previous encryption key runs
// after the server's keys are rotated, and only the saml package's tests
// can run a case that gives the SP other keys (samlOnly lists them). The
// saml tests with a failing or missing replay cache
// (TestReplayCacheFailureFailsClosed) are not corpus cases and stay there
// too: the server's cache is its database.

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// Bounds on one post to the ACS, well above what it takes (a refusal at
// most some 15 ms and 3.5 MB, a sign-in with 900 groups 65 ms and 30 MB,
// on 2 cores): they are there to catch a bomb, not to benchmark.
const (
	maxACSTime = 2 * time.Second
	// maxRefusalAlloc and maxSignInAlloc bound the bytes that the whole
	// process (the client's side included) allocates while one response
	// is posted and refused or accepted. The corpus has inflate and
	// nesting bombs and responses at the size limits.
	maxRefusalAlloc = 16 << 20
	maxSignInAlloc  = 96 << 20
	// acsMaxPost is the largest form the ACS reads (web's maxSAMLPost); a
	// larger post is refused before the saml package sees it.
	acsMaxPost = 512 << 10
)

// samlOnly names the cases that run against the saml package only, and
// why.
var samlOnly = map[string]string{
	"encrypted, but the SP has no encryption key": "the server always has an SP encryption key",
}

// acsSettings are the SAML settings that a case's Setup may change, as
// the settings API names them.
type acsSettings struct {
	MetadataXML           string `json:"metadata_xml"`
	AllowIdPInitiated     bool   `json:"allow_idp_initiated"`
	RequireSignedResponse bool   `json:"require_signed_response"`
}

// spKeys says what a case's Setup does to the SP's keys.
type spKeys int

const (
	spKeysKept spKeys = iota
	// spKeysRotated adds Keys.SPEncOld after the encryption key: the rig
	// rotates the server's keys, and its previous encryption key stands
	// for SPEncOld.
	spKeysRotated
	spKeysOwn // anything else
)

// acsRig is a server whose organization acme trusts samlattack's IdP.
type acsRig struct {
	s *e2eServer
	// encCert is the SP's encryption certificate, from its metadata, and
	// prevEncCert the one before, once the keys were rotated.
	encCert, prevEncCert *x509.Certificate
	current              acsSettings
}

// startACSRig starts a server and makes organization acme trust
// samlattack's IdP with the settings the corpus assumes.
func startACSRig(t *testing.T) *acsRig {
	t.Helper()
	s := startE2EServer(t)
	conn, _ := samlattack.NewFixture(t).Connection()
	st := acsSettings{MetadataXML: conn.MetadataXML, AllowIdPInitiated: conn.AllowIdPInitiated, RequireSignedResponse: conn.RequireSignedResponse}
	s.api(t, "POST", "/api/saml/settings", map[string]any{
		"metadata_xml": st.MetadataXML, "allow_idp_initiated": st.AllowIdPInitiated, "require_signed_response": st.RequireSignedResponse,
		"idp_provider": conn.IdPProvider, "sign_authn_requests": conn.SignAuthnRequests,
		// A response with a new NameID signs in as the existing account
		// of its email (a must-accept case), not as a refused newcomer.
		"domain": "acme.example",
	}, http.StatusOK)
	r := &acsRig{s: s, current: st}
	r.encCert = r.encryptionCerts(t)[0]
	return r
}

// encryptionCerts returns the encryption certificates that the SP's
// metadata publishes.
func (r *acsRig) encryptionCerts(t *testing.T) []*x509.Certificate {
	t.Helper()
	status, md := r.s.get(t, http.DefaultClient, "/saml/acme/metadata")
	if status != http.StatusOK {
		t.Fatalf("SP metadata: %d %s", status, md)
	}
	var sp struct {
		KeyDescriptors []struct {
			Use  string `xml:"use,attr"`
			Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
		} `xml:"SPSSODescriptor>KeyDescriptor"`
	}
	if err := xml.Unmarshal(md, &sp); err != nil {
		t.Fatalf("SP metadata: %v", err)
	}
	var certs []*x509.Certificate
	for _, kd := range sp.KeyDescriptors {
		if kd.Use != "encryption" {
			continue
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(kd.Cert), ""))
		if err != nil {
			t.Fatalf("SP encryption certificate: %v", err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("SP encryption certificate: %v", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatalf("the SP metadata publishes no encryption certificate:\n%s", md)
	}
	return certs
}

// rotate rotates the server's SP keys, once: the new encryption key
// encrypts from then on, the previous one still decrypts.
func (r *acsRig) rotate(t *testing.T) {
	t.Helper()
	if r.prevEncCert != nil {
		return
	}
	r.s.api(t, "POST", "/api/saml/keys/rotate", nil, http.StatusCreated)
	for _, c := range r.encryptionCerts(t) {
		if !c.Equal(r.encCert) {
			r.prevEncCert, r.encCert = r.encCert, c
			return
		}
	}
	t.Fatal("the rotated keys publish no new encryption certificate")
}

// fixture returns the IdP for this server's SP, answering requestID (none
// when empty). Now is the next whole second where the saml tests use the
// last one: the server checks against its own clock a few milliseconds
// later, so a case one second beyond the clock skew in the future stays
// beyond it, and those in the past only move further out.
func (r *acsRig) fixture(t *testing.T, requestID string) *samlattack.Fixture {
	f := samlattack.NewFixture(t)
	f.BaseURL, f.Org, f.EncryptionCert, f.RequestID = r.s.base, "acme", r.encCert, requestID
	f.Now = time.Now().UTC().Truncate(time.Second).Add(time.Second)
	// The server's SP keys stand for the fixture's; a case needs only
	// their certificates.
	keys := *f.Keys
	keys.SPSign, keys.SPEnc, keys.SPEncOld = saml.KeyPair{}, saml.KeyPair{Certificate: r.encCert}, saml.KeyPair{Certificate: r.prevEncCert}
	f.Keys = &keys
	return f
}

// settingsFor returns the settings that setup asks for, and what it does
// to the SP's keys. A change to any other setting fails the test: the rig
// would not carry it to the server.
func settingsFor(t *testing.T, f *samlattack.Fixture, setup func(*samlattack.Fixture, *glossa.SAMLConnection, *saml.Keys)) (acsSettings, spKeys) {
	t.Helper()
	base, baseKeys := f.Connection()
	conn, keys := f.Connection()
	if setup != nil {
		setup(f, conn, &keys)
	}
	st := acsSettings{conn.MetadataXML, conn.AllowIdPInitiated, conn.RequireSignedResponse}
	conn.MetadataXML, conn.AllowIdPInitiated, conn.RequireSignedResponse = base.MetadataXML, base.AllowIdPInitiated, base.RequireSignedResponse
	if !reflect.DeepEqual(conn, base) {
		t.Fatalf("Setup changes a setting that this test does not make through the API: %+v", conn)
	}
	rotated := saml.Keys{Signing: baseKeys.Signing, Encryption: append(baseKeys.Encryption, f.Keys.SPEncOld)}
	switch {
	case reflect.DeepEqual(keys, baseKeys):
		return st, spKeysKept
	case reflect.DeepEqual(keys, rotated):
		return st, spKeysRotated
	}
	return st, spKeysOwn
}

// apply saves st unless the server has it already.
func (r *acsRig) apply(t *testing.T, st acsSettings) {
	t.Helper()
	if st != r.current {
		r.s.api(t, "POST", "/api/saml/settings", st, http.StatusOK)
		r.current = st
	}
}

// startLogin starts an SP-initiated sign-in in a new browser and returns
// the browser, the RelayState the IdP will send back and the ID of the
// AuthnRequest that the IdP answers.
func (r *acsRig) startLogin(t *testing.T) (*http.Client, string, string) {
	t.Helper()
	c := browser()
	resp, err := c.Get(r.s.base + "/saml/acme/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), samlattack.IdPSSOURL+"?") {
		t.Fatalf("login = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	deflated, err := base64.StdEncoding.DecodeString(loc.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatalf("SAMLRequest: %v", err)
	}
	var req struct {
		ID string `xml:"ID,attr"`
	}
	if err := xml.Unmarshal(raw, &req); err != nil || req.ID == "" || loc.Query().Get("RelayState") == "" {
		t.Fatalf("AuthnRequest %v: %s", err, raw)
	}
	return c, loc.Query().Get("RelayState"), req.ID
}

// heapAllocs is the bytes the process has allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// post posts b64 to the ACS from c, checking that it takes less than
// maxACSTime and maxAlloc bytes.
func (r *acsRig) post(t *testing.T, c *http.Client, b64, relay string, maxAlloc uint64) *http.Response {
	t.Helper()
	before, start := heapAllocs(), time.Now()
	resp := postACS(t, c, r.s.base+"/saml/acme/acs", b64, relay)
	took, allocated := time.Since(start), heapAllocs()-before
	if took > maxACSTime {
		t.Errorf("the ACS took %s", took)
	}
	if allocated > maxAlloc {
		t.Errorf("the process allocated %d MiB while the ACS answered", allocated>>20)
	}
	return resp
}

// sessionCookie returns the session cookie that resp sets, if any.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if (c.Name == auth.CookieName || c.Name == auth.SecureCookieName) && c.Value != "" {
			return c
		}
	}
	return nil
}

// signedIn returns the email of the person c is signed in as, or "".
func (r *acsRig) signedIn(t *testing.T, c *http.Client) string {
	t.Helper()
	if status, _ := r.s.get(t, c, "/api/current-user/whoami"); status == http.StatusUnauthorized {
		return ""
	}
	return whoami(t, r.s, c)["email"].(string)
}

// signinAudit returns the organization's "signin" audit events by request
// ID.
func (r *acsRig) signinAudit(t *testing.T) map[string]glossa.AuditEvent {
	t.Helper()
	events := map[string]glossa.AuditEvent{}
	for before := ""; ; {
		var page struct {
			Results    []glossa.AuditEvent `json:"results"`
			NextBefore int64               `json:"next_before"`
		}
		req, _ := http.NewRequest("GET", r.s.base+"/api/audit?action=signin&limit=1000"+before, nil)
		req.Header.Set("Authorization", "Token "+r.s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("audit: %d %v", resp.StatusCode, err)
		}
		for _, e := range page.Results {
			events[e.RequestID] = e
		}
		if page.NextBefore == 0 {
			return events
		}
		before = "&before=" + strconv.FormatInt(page.NextBefore, 10)
	}
}

// prepare makes the server's settings and keys those that setup asks for,
// or skips t when only the saml package's tests can run its case.
func (r *acsRig) prepare(t *testing.T, name string, setup func(*samlattack.Fixture, *glossa.SAMLConnection, *saml.Keys), unsolicited bool) {
	t.Helper()
	st, keys := settingsFor(t, r.fixture(t, ""), setup)
	why := samlOnly[name]
	if (why != "") != (keys == spKeysOwn) {
		t.Fatalf("samlOnly must name exactly the cases that give the SP keys of their own (this one does: %t)", keys == spKeysOwn)
	}
	if why != "" {
		t.Skipf("saml package only: %s", why)
	}
	if keys == spKeysRotated {
		r.rotate(t)
	}
	st.AllowIdPInitiated = st.AllowIdPInitiated || unsolicited
	r.apply(t, st)
}

// TestSSOAttackCorpus posts every corpus case to the real ACS: each is
// refused with 401 and the one page every refusal shows (differing only in
// its request ID), sets no session cookie and signs nobody in, takes less
// than maxACSTime and maxRefusalAlloc, and leaves its reason (the saml
// package's class, or the ACS's own reason where the ACS refuses first) in
// a failed "signin" audit event under the request ID of its page.
//
// Replays are posted IdP-initiated, with unsolicited responses allowed:
// a solicited response is already refused the second time by its pending
// request, which the first use took, before the assertion replay cache is
// asked; unsolicited, the cache is all that refuses it. Every other case
// answers a real pending request of the browser that posts it, with its
// RelayState, so the cases about InResponseTo keep their meaning.
func TestSSOAttackCorpus(t *testing.T) {
	r := startACSRig(t)
	type refusal struct {
		name, reason string
		exact        bool // else a prefix, followed by the details
	}
	refused := map[string]refusal{} // by request ID
	var page string                 // the first refusal's page, its request ID cut out
	firstUses := 0
	start := time.Now()
	for _, c := range samlattack.Corpus() {
		t.Run(c.Name, func(t *testing.T) {
			r.prepare(t, c.Name, c.Setup, c.Before != nil)
			client, relay, requestID := browser(), "", ""
			if c.Before == nil {
				client, relay, requestID = r.startLogin(t)
			}
			f := r.fixture(t, requestID)
			b64 := c.Make(f)
			if c.Before != nil {
				resp := r.post(t, client, c.Before(f, b64), "", maxSignInAlloc)
				if who := r.signedIn(t, client); resp.StatusCode != http.StatusSeeOther || who != samlattack.Victim {
					t.Fatalf("first use: %d, signed in as %q", resp.StatusCode, who)
				}
				firstUses++
				client = browser() // the replay comes from elsewhere
			}
			resp := r.post(t, client, b64, relay, maxRefusalAlloc)
			body, _ := io.ReadAll(resp.Body)
			id := resp.Header.Get("X-Request-ID")
			got := strings.ReplaceAll(string(body), id, "REQUEST-ID")
			if resp.StatusCode != http.StatusUnauthorized || id == "" || !strings.Contains(got, "Single sign-on did not succeed") || !strings.Contains(got, "REQUEST-ID") {
				t.Fatalf("ACS = %d, request ID %q, page:\n%.800s", resp.StatusCode, id, body)
			}
			switch {
			case page == "":
				page = got
			case got != page:
				t.Errorf("the page differs from the first refusal's:\n%s", got)
			}
			if ck := sessionCookie(resp); ck != nil {
				t.Errorf("a session cookie was set: %s", ck.Name)
			}
			if who := r.signedIn(t, client); who != "" {
				t.Errorf("the browser is signed in as %q", who)
			}
			// The ACS refuses some posts before the saml package reads them.
			form := url.Values{"SAMLResponse": {b64}, "RelayState": {relay}}.Encode()
			switch {
			case b64 == "":
				refused[id] = refusal{c.Name, "saml: no SAMLResponse in the POST", true}
			case len(form) > acsMaxPost:
				refused[id] = refusal{c.Name, "saml: the form could not be read (too large or malformed)", true}
			default:
				refused[id] = refusal{c.Name, "saml: rejected (" + string(c.Want) + "): ", false}
			}
		})
	}
	t.Logf("%d corpus cases refused through the ACS in %s", len(refused), time.Since(start).Round(time.Millisecond))

	// The audit log has exactly the refusals and the first uses, each
	// refusal's reason under its page's request ID.
	audit := r.signinAudit(t)
	failures := 0
	for id, e := range audit {
		if e.Outcome != glossa.OutcomeSuccess {
			failures++
			if _, ok := refused[id]; !ok {
				t.Errorf("a failed sign-in that no case posted: %+v", e)
			}
		}
	}
	if len(audit) != len(refused)+firstUses || failures != len(refused) {
		t.Errorf("%d sign-in audit events, %d failed; want %d refusals and %d first uses", len(audit), failures, len(refused), firstUses)
	}
	for id, want := range refused {
		e := audit[id]
		ok := e.Reason == want.reason
		if !want.exact {
			ok = strings.HasPrefix(e.Reason, want.reason) && len(e.Reason) > len(want.reason)
		}
		if e.Outcome != glossa.OutcomeFailure || !ok {
			t.Errorf("%s: audit event %+v, want a failure with the reason %q (exact %t)", want.name, e, want.reason, want.exact)
		}
	}
}

// TestSSOAcceptsValidResponses signs in through the real ACS with every
// signing shape (also with pysaml2's namespace prefixes) and every
// must-accept response of the corpus (samlattack.ValidCases): IdP key
// rollover, SP key rotation, several audiences, 900 groups, clock skew,
// and so on. Each is
// answered with a redirect, a session cookie and a session that whoami
// sees.
func TestSSOAcceptsValidResponses(t *testing.T) {
	r := startACSRig(t)
	var cases []samlattack.Valid
	for _, sh := range samlattack.Shapes() {
		pysaml2 := sh.Base
		pysaml2.PySAML2 = true
		cases = append(cases,
			samlattack.Valid{Name: sh.Name, Make: func(f *samlattack.Fixture) string { return f.Build(sh.Base) }},
			samlattack.Valid{Name: sh.Name + " (pysaml2)", Make: func(f *samlattack.Fixture) string { return f.Build(pysaml2) }})
	}
	for _, v := range append(cases, samlattack.ValidCases()...) {
		t.Run(v.Name, func(t *testing.T) {
			r.prepare(t, v.Name, v.Setup, false)
			client, relay, requestID := r.startLogin(t)
			resp := r.post(t, client, v.Make(r.fixture(t, requestID)), relay, maxSignInAlloc)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/projects" {
				t.Fatalf("ACS = %d to %q; audit: %q", resp.StatusCode, resp.Header.Get("Location"), r.signinAudit(t)[resp.Header.Get("X-Request-ID")].Reason)
			}
			if sessionCookie(resp) == nil {
				t.Error("no session cookie")
			}
			if who := r.signedIn(t, client); who != samlattack.Victim {
				t.Errorf("signed in as %q", who)
			}
		})
	}
}
