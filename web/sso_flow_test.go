package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/saml"
	"github.com/glossa-dev/glossa/web"
)

// fakeIdP stands in for the SAML protocol layer, which has its own tests
// (saml/) and real-IdP tests (cmd/glossa): here the "SAMLResponse" posted
// to the ACS is simply the key of an identity the test prepared, so that
// these tests can exercise what the web layer does with an accepted
// identity: provisioning, linking, group sync, sessions and the hook.
type fakeIdP struct {
	identities map[string]*glossa.SAMLIdentity
	conn       *glossa.SAMLConnection
}

func (f *fakeIdP) Provider(_ context.Context, _ *glossa.Organization, conn *glossa.SAMLConnection) (web.SAMLProvider, error) {
	f.conn = conn
	return f, nil
}

func (f *fakeIdP) RotateKeys(context.Context, *glossa.Organization) error { return nil }

func (f *fakeIdP) SPMetadata(context.Context, *glossa.Organization, *glossa.SAMLConnection) ([]byte, error) {
	return f.Metadata()
}

func (f *fakeIdP) Metadata() ([]byte, error) { return []byte("<EntityDescriptor/>"), nil }

func (f *fakeIdP) AuthnRequestURL(relay string, _ time.Time) (string, string, error) {
	return "https://idp.example/sso?RelayState=" + url.QueryEscape(relay), "_req", nil
}

func (f *fakeIdP) ParseResponse(_ context.Context, response string, _ []string, _ time.Time) (*glossa.SAMLIdentity, error) {
	id, ok := f.identities[response]
	if !ok {
		return nil, errors.New("saml: rejected (signature): unknown test response")
	}
	return id, nil
}

func (f *fakeIdP) Grant(id *glossa.SAMLIdentity) web.SSOGrant {
	d := saml.Map(f.conn, id)
	g := web.SSOGrant{Role: d.Role, Workspaces: d.Workspaces}
	for _, p := range d.Projects {
		g.Projects = append(g.Projects, glossa.ProjectMapping{ProjectID: p.ProjectID, Role: p.Role})
	}
	return g
}

func (f *fakeIdP) LogoutRequestURL(*glossa.SAMLSession, string, time.Time) (string, string, error) {
	return "", "", errors.New("no SLO")
}
func (f *fakeIdP) ParseLogoutRequest(context.Context, web.SAMLLogoutMessage, time.Time) (*web.SAMLLogoutRequest, error) {
	return nil, errors.New("no SLO")
}
func (f *fakeIdP) ParseLogoutResponse(context.Context, web.SAMLLogoutMessage, []string, time.Time) error {
	return errors.New("no SLO")
}
func (f *fakeIdP) LogoutResponseURL(string, string, time.Time) (string, error) {
	return "", errors.New("no SLO")
}

// ssoSignIn posts a prepared response to the ACS as an IdP-initiated
// sign-in and returns the browser with its session.
func ssoSignIn(t *testing.T, ts *TestServer, key string, wantStatus int) *Client {
	t.Helper()
	c := ts.Anonymous()
	req, _ := http.NewRequest("POST", ts.URL+"/saml/acme/acs", strings.NewReader(url.Values{"SAMLResponse": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("ACS with %s = %d, want %d", key, resp.StatusCode, wantStatus)
	}
	return c
}

func identity(nameID, email string, groups ...string) *glossa.SAMLIdentity {
	return &glossa.SAMLIdentity{IdPEntityID: "https://idp.example", NameID: nameID, NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
		Email: email, FirstName: "Test", Groups: groups, AssertionID: "_a-" + nameID}
}

// TestSSOProvisioning: just-in-time accounts, the highest mapped role,
// workspaces and projects that follow the groups at every sign-in (and
// are lost with them), the account-linking rule, deactivated accounts,
// the Owner's fixed role, SessionNotOnOrAfter, and the federation hook.
func TestSSOProvisioning(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		idp := &fakeIdP{identities: map[string]*glossa.SAMLIdentity{}}
		ts.Web.SAML = idp
		var hooked []string
		ts.Web.AfterSSO = func(_ context.Context, m *glossa.Member, id *glossa.SAMLIdentity, raw string) error {
			hooked = append(hooked, m.Email+"|"+id.NameID+"|"+raw)
			return errors.New("the federation exchange failed") // must not break the sign-in
		}
		owner := ts.As(t, f.owner)
		owner.Must(t, 200, "POST", "/api/saml/settings", map[string]any{
			"metadata_xml": idpMetadata, "domain": "acme.example", "allow_idp_initiated": true, "manual_role_management": false,
			"default_role":      "Not Activated",
			"roles_groups":      [][]string{{"Manager", "leads"}, {"Annotator", "labelers"}},
			"workspaces_groups": [][]string{{"Main", "labelers"}, {"Night shift", "night"}},
			"projects_groups":   []map[string]any{{"project_id": f.project.ID, "group": "leads", "role": "Reviewer"}},
		}, nil)
		ctx := context.Background()

		// First sign-in: a new account, Manager (highest of leads and
		// labelers), in Main and the project.
		idp.identities["eve-1"] = identity("eve-nameid", "Eve@Acme.example", "leads", "labelers")
		eve := ssoSignIn(t, ts, "eve-1", http.StatusSeeOther)
		var me map[string]any
		eve.Must(t, 200, "GET", "/api/current-user/whoami", nil, &me)
		if me["email"] != "eve@acme.example" || me["role"] != "Manager" {
			t.Fatalf("eve = %v", me)
		}
		eveID := int64(me["id"].(float64))
		access, _ := ts.DB.FindAccess(ctx, f.org.ID, eveID)
		if !access.Workspaces[f.workspace.ID] || access.Projects[f.project.ID] != glossa.ProjectReviewer {
			t.Fatalf("eve's access after the first sign-in: %+v", access)
		}
		if len(hooked) != 1 || hooked[0] != "eve@acme.example|eve-nameid|eve-1" {
			t.Fatalf("hook calls = %v", hooked)
		}

		// Her groups shrink: she loses what leads gave, keeps what labelers give.
		idp.identities["eve-2"] = identity("eve-nameid", "eve@acme.example", "labelers")
		idp.identities["eve-2"].AssertionID = "_a-eve-2"
		eve = ssoSignIn(t, ts, "eve-2", http.StatusSeeOther)
		eve.Must(t, 200, "GET", "/api/current-user/whoami", nil, &me)
		access, _ = ts.DB.FindAccess(ctx, f.org.ID, eveID)
		if me["role"] != "Annotator" || !access.Workspaces[f.workspace.ID] || access.Projects[f.project.ID] != "" {
			t.Fatalf("after groups shrank: role %v, access %+v", me["role"], access)
		}
		// A workspace named only in the mapping was not created for nobody.
		wss, _ := ts.DB.FindWorkspaces(ctx, glossa.WorkspaceFilter{OrgID: f.org.ID})
		for _, ws := range wss {
			if ws.Title == "Night shift" {
				t.Fatal("a mapped workspace was created although nobody's groups gave it")
			}
		}

		// Linking: an existing password account whose email is in the
		// organization's SSO domains is linked; elsewhere it is refused.
		idp.identities["admin"] = identity("admin-nameid", f.admin.Email)
		ssoSignIn(t, ts, "admin", http.StatusSeeOther)
		if m, err := ts.DB.FindSAMLMember(ctx, f.org.ID, "https://idp.example", "admin-nameid"); err != nil || m.ID != f.admin.ID {
			t.Fatalf("admin not linked: %+v %v", m, err)
		}
		stranger := ts.MustMember(t, f.org.ID, "kim@partner.example", glossa.RoleReviewer)
		idp.identities["kim"] = identity("kim-nameid", stranger.Email)
		ssoSignIn(t, ts, "kim", http.StatusUnauthorized)
		if _, err := ts.DB.FindSAMLMember(ctx, f.org.ID, "https://idp.example", "kim-nameid"); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatalf("kim was linked across the domain rule: %v", err)
		}
		ev := mustAudit(t, ts, f.org.ID, "signin")
		if ev[0].Outcome != glossa.OutcomeFailure || !strings.Contains(ev[0].Reason, "not linked") {
			t.Fatalf("audit for kim = %+v", ev[0])
		}

		// The Owner's role never follows groups.
		idp.identities["owner"] = identity("owner-nameid", f.owner.Email, "labelers")
		ssoSignIn(t, ts, "owner", http.StatusSeeOther)
		if m, _ := ts.DB.FindMemberByID(ctx, f.org.ID, f.owner.ID); m.Role != glossa.RoleOwner {
			t.Fatalf("the Owner became %s", m.Role)
		}

		// A deactivated account cannot sign in with SSO either.
		owner.Must(t, 204, "DELETE", "/api/organizations/"+formatID(f.org.ID)+"/memberships/"+formatID(eveID), nil, nil)
		idp.identities["eve-3"] = identity("eve-nameid", "eve@acme.example", "leads")
		idp.identities["eve-3"].AssertionID = "_a-eve-3"
		ssoSignIn(t, ts, "eve-3", http.StatusUnauthorized)

		// A session never outlives the assertion's SessionNotOnOrAfter.
		until := ts.Clock.Now().Add(10 * time.Minute)
		idp.identities["bo"] = identity("bo-nameid", "bo@acme.example", "labelers")
		idp.identities["bo"].SessionNotOnOrAfter = &until
		bo := ssoSignIn(t, ts, "bo", http.StatusSeeOther)
		bo.Must(t, 200, "GET", "/api/current-user/whoami", nil, nil)
		ts.Clock.Advance(11 * time.Minute)
		bo.Must(t, 401, "GET", "/api/current-user/whoami", nil, nil)

		// Unsolicited responses stop when the organization no longer allows them.
		owner.Must(t, 200, "POST", "/api/saml/settings", map[string]any{"allow_idp_initiated": false}, nil)
		idp.identities["bo-2"] = identity("bo-nameid", "bo@acme.example", "labelers")
		ssoSignIn(t, ts, "bo-2", http.StatusUnauthorized)
	})
}

// TestSSOTestSignIn: an Owner's test sign-in runs the flow and shows what
// the IdP sent and what the mappings would give, creating no account, no
// link and no session; a refused response shows its reason to the Owner.
func TestSSOTestSignIn(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		idp := &fakeIdP{identities: map[string]*glossa.SAMLIdentity{}}
		ts.Web.SAML = idp
		ts.As(t, f.owner).Must(t, 200, "POST", "/api/saml/settings", map[string]any{
			"metadata_xml": idpMetadata, "roles_groups": [][]string{{"Reviewer", "reviewers"}}, "workspaces_groups": [][]string{{"Main", "reviewers"}},
		}, nil)
		ctx := context.Background()
		test := func(key string) *Response {
			t.Helper()
			owner := ts.SignInPage(t, f.owner.Email, testPassword)
			start := owner.Page(t, "/saml/acme/test")
			loc, _ := url.Parse(start.Header.Get("Location"))
			if start.Status != http.StatusFound || loc.Host != "idp.example" {
				t.Fatalf("test start = %d to %v", start.Status, loc)
			}
			return owner.SubmitForm(t, "/saml/acme/acs", url.Values{"SAMLResponse": {key}, "RelayState": {loc.Query().Get("RelayState")}})
		}
		idp.identities["new"] = identity("new-nameid", "newcomer@acme.example", "reviewers")
		resp := test("new")
		wantPage(t, resp, http.StatusOK, "newcomer@acme.example", "Reviewer", "Main", "Would create the account newcomer@acme.example")
		if _, err := ts.DB.FindMemberByEmail(ctx, f.org.ID, "newcomer@acme.example"); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatalf("the test created an account: %v", err)
		}
		if _, err := ts.DB.FindSAMLMember(ctx, f.org.ID, "https://idp.example", "new-nameid"); glossa.ErrorCode(err) != glossa.ENOTFOUND {
			t.Fatalf("the test linked an identity: %v", err)
		}
		for _, c := range (&http.Response{Header: resp.Header}).Cookies() {
			if strings.HasSuffix(c.Name, "glossa_session") && c.Value != "" {
				t.Fatal("the test set a session cookie")
			}
		}
		wantPage(t, test("unknown"), http.StatusOK, "The response was refused", "unknown test response")
		ev := mustAudit(t, ts, f.org.ID, "sso.test")
		if len(ev) != 2 || ev[0].Outcome != glossa.OutcomeFailure || ev[1].Outcome != glossa.OutcomeSuccess {
			t.Fatalf("sso.test audit = %+v", ev)
		}
		// Only Owners and Administrators may test; another organization's
		// test path is 404.
		annotator := ts.SignInPage(t, f.annotat.Email, testPassword)
		if r := annotator.Page(t, "/saml/acme/test"); r.Status != http.StatusForbidden {
			t.Fatalf("annotator test = %d", r.Status)
		}
		mustFixture(t, ts, "beta")
		if r := ts.SignInPage(t, f.owner.Email, testPassword).Page(t, "/saml/beta/test"); r.Status != http.StatusNotFound {
			t.Fatalf("test of another organization = %d", r.Status)
		}
	})
}

// TestSSORejectionsLookAlike: whatever the reason a response is refused,
// by the protocol layer or by the web layer, the browser gets the same
// page (a fixed sentence and a request ID), never the reason, and no
// session; the reason goes to the audit log.
func TestSSORejectionsLookAlike(t *testing.T) {
	ts := MustServer(t, "sqlite")
	f := mustFixture(t, ts, "acme")
	idp := &fakeIdP{identities: map[string]*glossa.SAMLIdentity{}}
	ts.Web.SAML = idp
	ts.As(t, f.owner).Must(t, 200, "POST", "/api/saml/settings", map[string]any{"metadata_xml": idpMetadata, "allow_idp_initiated": false}, nil)
	idp.identities["annotator"] = identity("ann-nameid", f.annotat.Email)
	post := func(form url.Values) *Response {
		t.Helper()
		return ts.Anonymous().SubmitForm(t, "/saml/acme/acs", form)
	}
	cases := []struct {
		name   string
		form   url.Values
		reason string
	}{
		{"forged signature", url.Values{"SAMLResponse": {"forged"}, "RelayState": {"x"}}, "RelayState names no sign-in"},
		{"unsolicited", url.Values{"SAMLResponse": {"annotator"}}, "unsolicited"},
		{"no response", url.Values{"RelayState": {"x"}}, "no SAMLResponse"},
		{"oversized", url.Values{"SAMLResponse": {strings.Repeat("A", 600<<10)}}, "could not be read"},
	}
	// Rejections that reach the protocol layer and provisioning.
	enable := func() {
		ts.As(t, f.owner).Must(t, 200, "POST", "/api/saml/settings", map[string]any{"allow_idp_initiated": true}, nil)
	}
	cases = append(cases,
		struct {
			name   string
			form   url.Values
			reason string
		}{"bad signature", url.Values{"SAMLResponse": {"forged"}}, "unknown test response"},
		struct {
			name   string
			form   url.Values
			reason string
		}{"existing account not linkable", url.Values{"SAMLResponse": {"annotator"}}, "not linked"},
	)
	var first string
	for i, c := range cases {
		if c.name == "bad signature" {
			enable()
		}
		resp := post(c.form)
		body := string(resp.Body)
		page := body[:strings.Index(body, "request ")] // the part before the request ID
		if resp.Status != http.StatusUnauthorized || !strings.Contains(body, "Single sign-on did not succeed") || strings.Contains(body, c.reason) {
			t.Errorf("%s: %d, page:\n%.600s", c.name, resp.Status, body)
		}
		if i == 0 {
			first = page
		} else if page != first {
			t.Errorf("%s: the page differs from the first rejection's", c.name)
		}
		for _, ck := range (&http.Response{Header: resp.Header}).Cookies() {
			if strings.HasSuffix(ck.Name, "glossa_session") && ck.Value != "" {
				t.Errorf("%s: a session cookie was set", c.name)
			}
		}
		ev := mustAudit(t, ts, f.org.ID, "signin")
		if ev[0].Outcome != glossa.OutcomeFailure || !strings.Contains(ev[0].Reason, c.reason) || ev[0].RequestID != resp.Header.Get("X-Request-ID") {
			t.Errorf("%s: audit = %+v", c.name, ev[0])
		}
	}
}
