package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/glossa-dev/glossa"
)

// idpMetadata is minimal IdP metadata of the shape every IdP publishes.
const idpMetadata = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.acme.example/saml">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.acme.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`

// TestSSOSettings: Owners and Administrators read and write the settings;
// every problem is reported at once and nothing is saved; changes are
// audited; the answer says what to paste into the IdP.
func TestSSOSettings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		admin := ts.As(t, f.admin)
		var v map[string]any
		admin.Must(t, 200, "GET", "/api/saml/settings", nil, &v)
		sp := v["sp"].(map[string]any)
		if v["configured"] != false || v["default_role"] != "Not Activated" || v["sign_authn_requests"] != true ||
			sp["acs_url"] != ts.URL+"/saml/acme/acs" || sp["entity_id"] != ts.URL+"/saml/acme/metadata" {
			t.Fatalf("defaults = %v", v)
		}
		for _, who := range []*glossa.Member{f.manager, f.reviewer, f.annotat} {
			if r := ts.As(t, who).Do(t, "GET", "/api/saml/settings", nil); r.Status != 403 {
				t.Errorf("%s read the SSO settings: %d", who.Email, r.Status)
			}
			if r := ts.As(t, who).Do(t, "POST", "/api/saml/settings", map[string]any{"enforce_sso": false}); r.Status != 403 {
				t.Errorf("%s wrote the SSO settings: %d", who.Email, r.Status)
			}
		}

		// Several problems, one answer, nothing saved.
		r := admin.Do(t, "POST", "/api/saml/settings", map[string]any{
			"idp_provider": "ldap", "domain": "acme.example,gmail.com", "roles_groups": [][]string{{"Owner", "admins"}, {"Wizard", "x"}},
			"projects_groups": []map[string]any{{"project_id": 999999, "group": "g", "role": "Reviewer"}},
			"default_role":    "Owner", "enforce_sso": true, "metadata_xml": "<!DOCTYPE x><x/>", "metadata_signing_cert": "not a certificate",
		})
		msg := string(r.Body)
		if r.Status != 400 {
			t.Fatalf("bad settings: %d %s", r.Status, msg)
		}
		for _, want := range []string{"idp_provider", "gmail.com", "roles_groups[0]", "roles_groups[1]", "project 999999", "default_role", "DOCTYPE", "signing certificate is not a PEM certificate"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the error does not mention %s: %s", want, msg)
			}
		}
		admin.Must(t, 200, "GET", "/api/saml/settings", nil, &v)
		if v["configured"] != false {
			t.Fatal("refused settings were saved")
		}
		// Another organization's project is as unknown as a missing one.
		b := mustFixture(t, ts, "beta")
		r = admin.Do(t, "POST", "/api/saml/settings", map[string]any{"projects_groups": []map[string]any{{"project_id": b.project.ID, "group": "g", "role": "Reviewer"}}})
		if r.Status != 400 || !strings.Contains(string(r.Body), "not a project of this organization") {
			t.Fatalf("foreign project in projects_groups: %d %s", r.Status, r.Body)
		}

		admin.Must(t, 200, "POST", "/api/saml/settings", map[string]any{
			"metadata_xml": idpMetadata, "idp_provider": "okta", "domain": "Acme.example, acme-labs.example",
			"roles_groups":      [][]string{{"MA", "leads"}, {"Annotator", "labelers"}},
			"workspaces_groups": [][]string{{"Main", "labelers"}},
			"projects_groups":   []map[string]any{{"project_id": f.project.ID, "group": "reviewers", "role": "reviewer"}},
		}, &v)
		if v["configured"] != true || v["domain"] != "acme.example,acme-labs.example" || v["idp_provider"] != "okta" {
			t.Fatalf("saved = %v", v)
		}
		rg := v["roles_groups"].([]any)
		if fmt.Sprint(rg[0]) != "[Manager leads]" || fmt.Sprint(v["projects_groups"]) != fmt.Sprintf("[map[group:reviewers project_id:%d role:Reviewer]]", f.project.ID) {
			t.Fatalf("mappings = %v / %v", rg, v["projects_groups"])
		}
		// beta cannot route acme's domain to its IdP.
		r = ts.As(t, b.owner).Do(t, "POST", "/api/saml/settings", map[string]any{"domain": "acme.example"})
		if r.Status != 409 {
			t.Fatalf("domain taken twice: %d %s", r.Status, r.Body)
		}
		ev := mustAudit(t, ts, f.org.ID, "sso.settings.update")
		if len(ev) != 1 || fmt.Sprint(ev[0].Detail["changed"]) != "[domain idp_provider metadata_xml projects_groups roles_groups workspaces_groups]" {
			t.Fatalf("audit = %+v", ev)
		}
		admin.Must(t, 204, "DELETE", "/api/saml/settings", nil, nil)
		admin.Must(t, 200, "GET", "/api/saml/settings", nil, &v)
		if v["configured"] != false || len(mustAudit(t, ts, f.org.ID, "sso.settings.delete")) != 1 {
			t.Fatalf("after delete: %v", v)
		}
	})
}

// TestEnforceSSO: with enforce_sso on, password sign-in is refused for
// everyone but the Owner, in the API and the sign-in page; API tokens keep
// working; the refusal is audited and not counted as a guess.
func TestEnforceSSO(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		adminToken := ts.As(t, f.admin)
		adminToken.Must(t, 200, "POST", "/api/saml/settings", map[string]any{"metadata_xml": idpMetadata, "enforce_sso": true}, nil)

		for _, m := range []*glossa.Member{f.admin, f.manager, f.annotat} {
			r := ts.Anonymous().Do(t, "POST", "/api/auth/login", map[string]string{"email": m.Email, "password": testPassword})
			if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "single sign-on") || len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s signed in with a password under enforce_sso: %d %s", m.Email, r.Status, r.Body)
			}
		}
		// A wrong password still gets the ordinary answer: enforcement
		// reveals nothing to someone who does not know the password.
		r := ts.Anonymous().Do(t, "POST", "/api/auth/login", map[string]string{"email": f.admin.Email, "password": "not the password"})
		if r.Status != 401 || !strings.Contains(string(r.Body), "Wrong email or password") {
			t.Fatalf("wrong password under enforce_sso: %d %s", r.Status, r.Body)
		}
		ts.SignIn(t, f.owner.Email, testPassword) // the Owner's break-glass
		adminToken.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)

		// The sign-in page says why.
		resp := ts.Anonymous().SubmitForm(t, "/user/login", map[string][]string{"email": {f.manager.Email}, "password": {testPassword}})
		if resp.Status != http.StatusForbidden || !strings.Contains(string(resp.Body), "signs in with single sign-on") {
			t.Fatalf("the sign-in page does not say SSO is enforced: %d %.400s", resp.Status, resp.Body)
		}

		var reasons []string
		for _, e := range mustAudit(t, ts, f.org.ID, "signin") {
			if e.Outcome == glossa.OutcomeFailure {
				reasons = append(reasons, e.Reason)
			}
		}
		if strings.Count(strings.Join(reasons, ","), "sso_enforced") != 4 {
			t.Fatalf("failure reasons = %v", reasons)
		}
		// Refusals for enforcement are not guesses: the manager is not throttled.
		for i := 0; i < 6; i++ {
			ts.Anonymous().Do(t, "POST", "/api/auth/login", map[string]string{"email": f.manager.Email, "password": testPassword})
		}
		if r := ts.Anonymous().Do(t, "POST", "/api/auth/login", map[string]string{"email": f.manager.Email, "password": testPassword}); r.Status != 403 {
			t.Fatalf("after repeated SSO refusals: %d", r.Status)
		}
		// Turning enforcement off restores password sign-in.
		adminToken.Must(t, 200, "POST", "/api/saml/settings", map[string]any{"enforce_sso": false}, nil)
		ts.SignIn(t, f.manager.Email, testPassword)
	})
}

// fakeFetcher serves metadata URLs from a map.
type fakeFetcher map[string]string

func (f fakeFetcher) CheckMetadata(string, string) error { return nil }

func (f fakeFetcher) FetchMetadata(_ context.Context, url, _ string) ([]byte, error) {
	if doc, ok := f[url]; ok {
		return []byte(doc), nil
	}
	return nil, glossa.Errorf(glossa.EINVALID, "The metadata URL answered HTTP 404 instead of the metadata.")
}

// TestSSOMetadataURL: a metadata URL is fetched when saved, so a wrong one
// is reported at once and nothing is saved.
func TestSSOMetadataURL(t *testing.T) {
	ts := MustServer(t, "sqlite")
	_, owner := ts.MustOrg(t, "acme")
	c := ts.As(t, owner)
	if r := c.Do(t, "POST", "/api/saml/settings", map[string]any{"metadata_url": "https://idp.acme.example/md"}); r.Status != 400 || !strings.Contains(string(r.Body), "does not fetch") {
		t.Fatalf("without a fetcher: %d %s", r.Status, r.Body)
	}
	ts.Web.Metadata = fakeFetcher{"https://idp.acme.example/md": idpMetadata}
	if r := c.Do(t, "POST", "/api/saml/settings", map[string]any{"metadata_url": "https://idp.acme.example/missing"}); r.Status != 400 || !strings.Contains(string(r.Body), "metadata_url: The metadata URL answered HTTP 404") {
		t.Fatalf("bad URL: %d %s", r.Status, r.Body)
	}
	var v map[string]any
	c.Must(t, 200, "GET", "/api/saml/settings", nil, &v)
	if v["configured"] != false {
		t.Fatal("a failed fetch saved the settings")
	}
	c.Must(t, 200, "POST", "/api/saml/settings", map[string]any{"metadata_url": "https://idp.acme.example/md"}, &v)
	if v["metadata_xml"] != idpMetadata || v["metadata_fetched_at"] == nil || v["metadata_fetch_error"] != "" {
		t.Fatalf("saved = %v", v)
	}
}
