package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/glossa-dev/glossa/internal/browsertest"
	"github.com/glossa-dev/glossa/internal/idptest"
)

// placeholderIdP is IdP metadata to save before the real IdP exists: the
// SP metadata (which the IdP needs first) is served only for a connection.
const placeholderIdP = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://placeholder.example/idp">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://placeholder.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`

// e2eServer is the real glossa binary's run() serving on loopback.
type e2eServer struct {
	base  string
	token string
}

func startE2EServer(t *testing.T) *e2eServer {
	t.Helper()
	s, _ := startE2EServerEnv(t, nil)
	return s
}

// startE2EServerEnv is startE2EServer with more environment; it returns
// the whole environment too, for CLI commands against the same server.
func startE2EServerEnv(t *testing.T, extra map[string]string) (*e2eServer, map[string]string) {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	env := map[string]string{"GLOSSA_DB": "sqlite:" + filepath.Join(dir, "g.db"), "GLOSSA_DATA_DIR": filepath.Join(dir, "data"),
		"GLOSSA_ADDR": addr, "GLOSSA_BASE_URL": "http://" + addr, "GLOSSA_LOG_LEVEL": "warn"}
	for k, v := range extra {
		env[k] = v
	}
	if _, _, err := runCLI(t, env, "org", "create", "--name", "Acme", "--slug", "acme", "--owner-email", "owner@example.com", "--owner-password", "owner password 1"); err != nil {
		t.Fatal(err)
	}
	token, _, err := runCLI(t, env, "token", "create", "--email", "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs lockedBuffer
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	s := &e2eServer{base: "http://" + addr, token: strings.TrimSpace(token)}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs.String())
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return s, env
}

// api calls the JSON API as the Owner.
func (s *e2eServer) api(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Token "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	var out map[string]any
	json.Unmarshal(data, &out)
	return out
}

func (s *e2eServer) get(t *testing.T, c *http.Client, path string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so the test sees each step.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// postACS posts what the IdP's auto-submit form would. The response's
// body has been read and closed; it can be read again.
func postACS(t *testing.T, c *http.Client, acs, response, relay string) *http.Response {
	t.Helper()
	form := url.Values{"SAMLResponse": {response}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	req, _ := http.NewRequest("POST", acs, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// A browser posting from the IdP's page says so; the ACS must accept it.
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

func whoami(t *testing.T, s *e2eServer, c *http.Client) map[string]any {
	t.Helper()
	status, body := s.get(t, c, "/api/current-user/whoami")
	if status != 200 {
		t.Fatalf("whoami after SSO = %d %s", status, body)
	}
	var v map[string]any
	json.Unmarshal(body, &v)
	return v
}

// TestSSOWithSimpleSAMLphp signs people in through a real SimpleSAMLphp
// IdP, SP-initiated and IdP-initiated, and checks provisioning, group
// mapping, the return path, replay refusal and the audit trail.
func TestSSOWithSimpleSAMLphp(t *testing.T) {
	s := startE2EServer(t)
	// The SP metadata exists once a connection does; the IdP needs it first.
	s.api(t, "POST", "/api/saml/settings", map[string]any{"metadata_xml": placeholderMetadata(t)}, 200)
	status, spMetadata := s.get(t, http.DefaultClient, "/saml/acme/metadata")
	if status != 200 || !strings.Contains(string(spMetadata), s.base+"/saml/acme/acs") {
		t.Fatalf("SP metadata: %d %s", status, spMetadata)
	}
	idp := idptest.StartSimpleSAMLphp(t, idptest.SP{MetadataXML: spMetadata}, idptest.Options{SignResponse: true, SignAssertion: true})
	s.api(t, "POST", "/api/saml/settings", map[string]any{
		"metadata_xml": string(idp.MetadataXML), "idp_provider": "custom", "domain": "example.com",
		"mapping_email": "email", "mapping_first_name": "givenName", "mapping_last_name": "sn", "mapping_groups": "groups",
		"roles_groups":           [][]string{{"Manager", "glossa-owners"}, {"Annotator", "glossa-annotators"}},
		"workspaces_groups":      [][]string{{"Labeling", "glossa-annotators"}},
		"manual_role_management": false, "default_role": "Not Activated",
	}, 200)

	// "Continue with SSO" finds the organization by the email's domain or
	// by its slug, and says so when there is none.
	for id, want := range map[string]string{"Alice@Example.com": "/saml/acme/login?next=%2Fworkspaces", "acme": "/saml/acme/login?next=%2Fworkspaces"} {
		resp, err := browser().Get(s.base + "/user/sso?next=/workspaces&id=" + url.QueryEscape(id))
		if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Refresh") != "0;url="+want {
			t.Fatalf("Continue with SSO as %s: %v %v to %q", id, err, resp.StatusCode, resp.Header.Get("Refresh"))
		}
	}
	if status, body := s.get(t, browser(), "/user/sso?id=someone@elsewhere.example"); status != 404 || !strings.Contains(string(body), "No single sign-on is set up") {
		t.Fatalf("unknown domain: %d", status)
	}

	// SP-initiated: alice returns where she started, as a Manager.
	alice := browser()
	acs, response, relay := idp.Login(t, alice, s.base+"/saml/acme/login?next=/workspaces", "alice", "alice-password")
	if acs != s.base+"/saml/acme/acs" || relay == "" {
		t.Fatalf("IdP posts to %q with RelayState %q", acs, relay)
	}
	resp := postACS(t, alice, acs, response, relay)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/workspaces" {
		t.Fatalf("ACS = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	me := whoami(t, s, alice)
	if me["email"] != "alice@example.com" || me["role"] != "Manager" || me["first_name"] != "Alice" {
		t.Fatalf("alice = %v", me)
	}

	// The same response again is refused with the fixed page.
	resp = postACS(t, browser(), acs, response, relay)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed response: %d", resp.StatusCode)
	}

	// IdP-initiated is refused until the organization allows it.
	bjorn := browser()
	acs, response, relay = idp.IdPInitiated(t, bjorn, "bjorn", "bjorn-password")
	if resp := postACS(t, bjorn, acs, response, relay); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsolicited response accepted while not allowed: %d", resp.StatusCode)
	}
	s.api(t, "POST", "/api/saml/settings", map[string]any{"allow_idp_initiated": true}, 200)
	bjorn = browser()
	acs, response, relay = idp.IdPInitiated(t, bjorn, "bjorn", "bjorn-password")
	if resp := postACS(t, bjorn, acs, response, relay); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/projects" {
		t.Fatalf("IdP-initiated: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	me = whoami(t, s, bjorn)
	if me["role"] != "Annotator" || me["first_name"] != "Bjørn" {
		t.Fatalf("bjorn = %v", me)
	}
	// The mapping created the workspace and made bjorn a member.
	status, body := s.get(t, bjorn, "/api/workspaces")
	if status != 200 || !strings.Contains(string(body), `"title":"Labeling"`) {
		t.Fatalf("bjorn's workspaces: %d %s", status, body)
	}

	// IdP-initiated single logout: the IdP's signed LogoutRequest ends
	// bjorn's session server-side (it arrives here without his cookies).
	sloURL := idp.Follow(t, bjorn, idp.IdPInitiatedLogoutURL(s.base+"/user/login"))
	if !strings.HasPrefix(sloURL, s.base+"/saml/acme/slo?") || !strings.Contains(sloURL, "SAMLRequest=") {
		t.Fatalf("IdP-initiated logout leads to %q", sloURL)
	}
	unsigned := strings.Split(sloURL, "&Signature=")[0]
	if resp, _ := browser().Get(unsigned); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unsigned LogoutRequest: %d", resp.StatusCode)
	}
	if status, _ := s.get(t, bjorn, "/api/current-user/whoami"); status != 200 {
		t.Fatal("a refused LogoutRequest ended the session")
	}
	resp, err := browser().Get(sloURL)
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), idp.SLOURL) {
		t.Fatalf("LogoutRequest: %v %v to %q", err, resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, _ := s.get(t, bjorn, "/api/current-user/whoami"); status != 401 {
		t.Fatalf("bjorn's session outlived the IdP's logout: %d", status)
	}
	if resp, _ := browser().Get(sloURL); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed LogoutRequest: %d", resp.StatusCode)
	}

	// SP-initiated single logout: signing out of Glossa sends alice to the
	// IdP with a signed LogoutRequest, and its LogoutResponse brings her back.
	csrf := whoami(t, s, alice)["csrf_token"].(string)
	req, _ := http.NewRequest("POST", s.base+"/user/logout", strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = alice.Do(req)
	idpLogout := strings.TrimPrefix(resp.Header.Get("Refresh"), "0;url=")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(idpLogout, idp.SLOURL) {
		t.Fatalf("sign-out: %v %v to %q", err, resp.StatusCode, resp.Header.Get("Refresh"))
	}
	if status, _ := s.get(t, alice, "/api/current-user/whoami"); status != 401 {
		t.Fatal("alice's session outlived her sign-out")
	}
	back := idp.Follow(t, alice, idpLogout)
	if !strings.HasPrefix(back, s.base+"/saml/acme/slo?") || !strings.Contains(back, "SAMLResponse=") {
		t.Fatalf("IdP answered logout with %q", back)
	}
	resp, err = alice.Get(back)
	if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/user/login?notice=signed-out" {
		t.Fatalf("LogoutResponse: %v %v to %q", err, resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := alice.Get(back); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed LogoutResponse: %d", resp.StatusCode)
	}

	// The audit log has both kinds of decision with their reasons.
	audit := s.api(t, "GET", "/api/audit?action=signin&limit=50", nil, 200)
	var success, failures int
	var reasons []string
	for _, e := range audit["results"].([]any) {
		ev := e.(map[string]any)
		if ev["outcome"] == "success" {
			success++
		} else {
			failures++
			reasons = append(reasons, ev["reason"].(string))
		}
	}
	if success != 2 || failures != 2 {
		t.Fatalf("sign-in audit: %d successes, %d failures: %v", success, failures, reasons)
	}
}

// placeholderMetadata is placeholderIdP with a real certificate in it.
func placeholderMetadata(t *testing.T) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "placeholder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(placeholderIdP, "%s", base64.StdEncoding.EncodeToString(der), 1)
}

// TestSSOVariants signs alice in through each real IdP with each way of
// protecting the response: response signed, assertion signed, both, and
// encrypted assertions (AES-CBC or AES-GCM with RSA-OAEP). An unsigned
// response, and an assertion-only signature where the organization
// requires a signed Response, are refused.
func TestSSOVariants(t *testing.T) {
	cases := []struct {
		name          string
		start         func(testing.TB, idptest.SP, idptest.Options) *idptest.IdP
		opts          idptest.Options
		requireSigned bool // require_signed_response
		accept        bool
	}{
		{"simplesamlphp/response-signed", idptest.StartSimpleSAMLphp, idptest.Options{SignResponse: true}, true, true},
		{"simplesamlphp/assertion-signed", idptest.StartSimpleSAMLphp, idptest.Options{SignAssertion: true}, false, true},
		{"simplesamlphp/encrypted-aes128-cbc", idptest.StartSimpleSAMLphp, idptest.Options{SignResponse: true, SignAssertion: true, Encrypt: idptest.AES128CBC}, false, true},
		{"simplesamlphp/unsigned", idptest.StartSimpleSAMLphp, idptest.Options{}, false, false},
		{"simplesamlphp/assertion-signed-but-response-required", idptest.StartSimpleSAMLphp, idptest.Options{SignAssertion: true}, true, false},
		{"pysaml2/both-signed", idptest.StartPySAML2, idptest.Options{SignResponse: true, SignAssertion: true}, true, true},
		{"pysaml2/encrypted-aes256-gcm", idptest.StartPySAML2, idptest.Options{SignAssertion: true, Encrypt: idptest.AES256GCM}, false, true},
		{"pysaml2/unsigned", idptest.StartPySAML2, idptest.Options{}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startE2EServer(t)
			s.api(t, "POST", "/api/saml/settings", map[string]any{"metadata_xml": placeholderMetadata(t)}, 200)
			_, spMetadata := s.get(t, http.DefaultClient, "/saml/acme/metadata")
			idp := c.start(t, idptest.SP{MetadataXML: spMetadata}, c.opts)
			s.api(t, "POST", "/api/saml/settings", map[string]any{
				"metadata_xml": string(idp.MetadataXML), "mapping_email": "email", "mapping_groups": "groups",
				"roles_groups": [][]string{{"Reviewer", "glossa-annotators"}}, "require_signed_response": c.requireSigned,
			}, 200)
			alice := browser()
			acs, response, relay := idp.Login(t, alice, s.base+"/saml/acme/login", "alice", "alice-password")
			resp := postACS(t, alice, acs, response, relay)
			if !c.accept {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("accepted: %d", resp.StatusCode)
				}
				if status, _ := s.get(t, alice, "/api/current-user/whoami"); status != 401 {
					t.Fatal("a refused response created a session")
				}
				return
			}
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("refused: %d; audit: %v", resp.StatusCode, s.api(t, "GET", "/api/audit?action=signin", nil, 200))
			}
			if me := whoami(t, s, alice); me["email"] != "alice@example.com" || me["role"] != "Reviewer" {
				t.Fatalf("alice = %v", me)
			}
		})
	}
}

// TestSSOInBrowser signs alice in through SimpleSAMLphp in a real headless
// Chromium: "Continue with SSO" with her work email on Glossa's sign-in
// page, the IdP's own login form and auto-submit page, and back to the
// page she asked for.
func TestSSOInBrowser(t *testing.T) {
	s := startE2EServer(t)
	// The IdP needs Glossa's metadata first: a connection saved without
	// IdP metadata already serves it.
	s.api(t, "POST", "/api/saml/settings", map[string]any{"idp_provider": "custom"}, 200)
	_, spMetadata := s.get(t, http.DefaultClient, "/saml/acme/metadata")
	idp := idptest.StartSimpleSAMLphp(t, idptest.SP{MetadataXML: spMetadata}, idptest.Options{SignResponse: true, SignAssertion: true})
	s.api(t, "POST", "/api/saml/settings", map[string]any{
		"metadata_xml": string(idp.MetadataXML), "domain": "example.com", "mapping_email": "email", "mapping_groups": "groups",
		"mapping_first_name": "givenName", "roles_groups": [][]string{{"Manager", "glossa-owners"}},
	}, 200)

	ctx := browsertest.New(t)
	browsertest.Do(t, ctx,
		chromedp.Navigate(s.base+"/user/login?next=/workspaces"),
		chromedp.WaitVisible(chromedp.ID("sso")),
		chromedp.SendKeys(chromedp.ID("sso"), "alice@example.com"),
		chromedp.Click(chromedp.ID("sso-continue")),
		chromedp.WaitVisible(chromedp.CSS(`input[type=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[type=password]`), "alice-password"),
		chromedp.Submit(chromedp.CSS(`input[type=password]`)),
		chromedp.WaitVisible(chromedp.ID("org-name")),
	)
	where := browsertest.Run(t, ctx, chromedp.Evaluate[string](`location.pathname + " " + document.body.innerText`))
	if !strings.HasPrefix(where, "/workspaces ") || !strings.Contains(where, "alice@example.com") || !strings.Contains(where, "Manager") {
		t.Fatalf("after SSO the browser shows: %.300s", where)
	}
}
