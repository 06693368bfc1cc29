package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
)

// SubmitMultipart posts a multipart form, as a browser does for a form
// with a file input, with no CSRF header: the token, if any, must be a form
// field. A file part is added when fileName is not empty.
func (c *Client) SubmitMultipart(tb testing.TB, path string, form url.Values, fileField, fileName string, content []byte) *Response {
	tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if fileName != "" {
		fw, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			tb.Fatal(err)
		}
		fw.Write(content)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest("POST", c.ts.URL+path, &body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.sendPage(tb, req)
}

// ssoFormValues is a complete settings form as the page posts it: boxes
// that are ticked are present, the others absent.
func ssoFormValues(token string, projectID int64) url.Values {
	return url.Values{
		"csrf_token":              {token},
		"metadata_xml":            {idpMetadata},
		"idp_provider":            {"okta"},
		"domain":                  {"Acme.example, acme-labs.example"},
		"mapping_email":           {"mail"},
		"mapping_first_name":      {""},
		"mapping_last_name":       {""},
		"mapping_groups":          {"memberOf"},
		"roles_groups":            {"MA, leads\r\n\r\nAnnotator, CN=Labelers,OU=Groups,DC=acme,DC=example\r\n"},
		"workspaces_groups":       {"Main, labelers\r\n\"Main, old\", archive"},
		"projects_groups":         {fmt.Sprintf("%d, reviewers, reviewer", projectID)},
		"sign_authn_requests":     {"on"},
		"require_signed_response": {"on"},
		"default_role":            {"Annotator"},
		"clock_skew_seconds":      {"120"},
	}
}

// mustNoSSO fails unless the organization has no SAML connection.
func mustNoSSO(t *testing.T, ts *TestServer, orgID int64, what string) {
	t.Helper()
	c, err := ts.DB.FindSAMLConnection(context.Background(), orgID)
	if glossa.ErrorCode(err) != glossa.ENOTFOUND {
		t.Fatalf("%s: the connection is %+v, %v; want none", what, c, err)
	}
}

// TestUISSOPage: the page shows Owners and Administrators what to paste
// into the IdP; everyone else gets the 403 page, and no link to it.
func TestUISSOPage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		for _, m := range []*glossa.Member{f.owner, f.admin} {
			c := ts.SignInPage(t, m.Email, testPassword)
			wantPage(t, c.Page(t, "/projects"), http.StatusOK, `href="/organization/sso"`, "Single sign-on")
			page := c.Page(t, "/organization/sso")
			wantPage(t, page, http.StatusOK,
				`id="sp-entity-id" type="text" readonly value="`+ts.URL+`/saml/acme/metadata"`,
				`id="sp-acs-url" type="text" readonly value="`+ts.URL+`/saml/acme/acs"`,
				`id="sp-slo-url" type="text" readonly value="`+ts.URL+`/saml/acme/slo"`,
				`id="sp-metadata-url" type="text" readonly value="`+ts.URL+`/saml/acme/metadata"`,
				`data-copy="sp-acs-url"`, "as soon as these settings are saved once", "not connected",
				`enctype="multipart/form-data"`, `name="metadata_file" type="file"`,
				`<option value="keycloak">Keycloak</option>`, `<option value="custom" selected>`,
				`<option value="Not Activated" selected>`, `name="sign_authn_requests" value="on" checked`,
				`value="180"`, "only Owners will be able to sign in with a password")
			if strings.Contains(string(page.Body), `id="disconnect"`) || strings.Contains(string(page.Body), `id="test-sign-in"`) {
				t.Error("an unconfigured organization is offered Disconnect or Test sign-in")
			}
		}
		for _, m := range []*glossa.Member{f.manager, f.reviewer, f.annotat} {
			c := ts.SignInPage(t, m.Email, testPassword)
			projects := c.Page(t, "/projects")
			if strings.Contains(string(projects.Body), `href="/organization/sso"`) {
				t.Errorf("%s sees the Single sign-on link", m.Email)
			}
			token := csrfFrom(t, projects)
			wantPage(t, c.Page(t, "/organization/sso"), http.StatusForbidden, "Only Owners and Administrators can configure single sign-on")
			wantPage(t, c.SubmitForm(t, "/organization/sso", ssoFormValues(token, f.project.ID)), http.StatusForbidden, "Only Owners and Administrators")
			wantPage(t, c.SubmitMultipart(t, "/organization/sso", ssoFormValues(token, f.project.ID), "metadata_file", "idp.xml", []byte(idpMetadata)),
				http.StatusForbidden, "Only Owners and Administrators")
			mustNoSSO(t, ts, f.org.ID, m.Email+" saving")
		}
		// Nor can they disconnect one.
		ts.As(t, f.owner).Must(t, http.StatusOK, "POST", "/api/saml/settings", map[string]any{"metadata_xml": idpMetadata}, nil)
		manager := ts.SignInPage(t, f.manager.Email, testPassword)
		resp := manager.SubmitForm(t, "/organization/sso/disconnect", url.Values{"csrf_token": {csrfFrom(t, manager.Page(t, "/projects"))}})
		wantPage(t, resp, http.StatusForbidden, "Only Owners and Administrators")
		if _, err := ts.DB.FindSAMLConnection(context.Background(), f.org.ID); err != nil {
			t.Fatalf("a Manager disconnected SSO: %v", err)
		}
		if len(mustAudit(t, ts, f.org.ID, "sso.settings.delete")) != 0 {
			t.Error("a refused disconnect was audited as done")
		}
	})
}

// TestUISSOSave: the form saves through the API's path, lands in the
// store, is audited, and comes back on the page as it was typed.
func TestUISSOSave(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		ctx := context.Background()
		f := mustFixture(t, ts, "acme")
		c := ts.SignInPage(t, f.admin.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/organization/sso"))

		resp := c.SubmitForm(t, "/organization/sso", ssoFormValues(token, f.project.ID))
		if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != "/organization/sso?notice=sso-saved" {
			t.Fatalf("save = %d to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
		}
		got, err := ts.DB.FindSAMLConnection(ctx, f.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := glossa.SAMLConnection{
			OrgID: f.org.ID, MetadataXML: idpMetadata, IdPProvider: "okta", Domains: []string{"acme.example", "acme-labs.example"},
			MappingEmail: "mail", MappingGroups: "memberOf",
			RolesGroups:      []glossa.GroupMapping{{Name: "Manager", Group: "leads"}, {Name: "Annotator", Group: "CN=Labelers,OU=Groups,DC=acme,DC=example"}},
			WorkspacesGroups: []glossa.GroupMapping{{Name: "Main", Group: "labelers"}, {Name: "Main, old", Group: "archive"}},
			ProjectsGroups:   []glossa.ProjectMapping{{ProjectID: f.project.ID, Group: "reviewers", Role: glossa.ProjectReviewer}},
			DefaultRole:      glossa.RoleAnnotator, SignAuthnRequests: true, RequireSignedResponse: true, ClockSkew: 120 * time.Second,
		}
		got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Fatalf("saved connection (-want +got):\n%s", diff)
		}
		ev := mustAudit(t, ts, f.org.ID, "sso.settings.update")
		if len(ev) != 1 || ev[0].ActorID != f.admin.ID {
			t.Fatalf("audit = %+v", ev)
		}

		// The page says so, shows the settings back and offers the next steps.
		page := c.Page(t, resp.Header.Get("Location"))
		wantPage(t, page, http.StatusOK, "Saved.", "connected", `<option value="okta" selected>`, `value="acme.example, acme-labs.example"`,
			"Manager, leads\nAnnotator, CN=Labelers,OU=Groups,DC=acme,DC=example\n", "Main, labelers\n&#34;Main, old&#34;, archive\n",
			fmt.Sprintf("%d, reviewers, Reviewer", f.project.ID), `name="require_signed_response" value="on" checked`,
			`<option value="Annotator" selected>`, `value="120"`, `id="test-sign-in"`, `id="disconnect"`, "Download the SP metadata",
			"&lt;md:EntityDescriptor")
		if strings.Contains(string(page.Body), `name="enforce_sso" value="on" checked`) || strings.Contains(string(page.Body), `name="manual_role_management" value="on" checked`) {
			t.Error("unticked boxes show as ticked")
		}

		// Saving the same form again changes nothing, though the browser
		// sends the text boxes with CRLF line ends.
		again := ssoFormValues(token, f.project.ID)
		again.Set("metadata_xml", strings.ReplaceAll(idpMetadata, "\n", "\r\n"))
		if resp := c.SubmitForm(t, "/organization/sso", again); resp.Status != http.StatusSeeOther {
			t.Fatalf("save again = %d:\n%s", resp.Status, resp.Body)
		}
		if ev := mustAudit(t, ts, f.org.ID, "sso.settings.update"); len(ev) != 2 || ev[0].Detail["changed"] != nil {
			t.Fatalf("an unchanged save changed %v", ev[0].Detail["changed"])
		}

		// The API sees what the page saved, in the same shape.
		var v map[string]any
		ts.As(t, f.owner).Must(t, http.StatusOK, "GET", "/api/saml/settings", nil, &v)
		if v["domain"] != "acme.example,acme-labs.example" || v["clock_skew_seconds"] != float64(120) || fmt.Sprint(v["roles_groups"]) != "[[Manager leads] [Annotator CN=Labelers,OU=Groups,DC=acme,DC=example]]" {
			t.Fatalf("API view = %v", v)
		}

		// A page opened before the metadata changed elsewhere (a background
		// refresh, the API) saves its other fields without putting the old
		// metadata back.
		shown := regexp.MustCompile(`name="metadata_shown" value="([0-9a-f]{64})"`).FindSubmatch(c.Page(t, "/organization/sso").Body)
		if shown == nil {
			t.Fatal("no metadata_shown field on the page")
		}
		rolled := strings.Replace(idpMetadata, "https://idp.acme.example/sso", "https://idp2.acme.example/sso", 1)
		ts.As(t, f.owner).Must(t, http.StatusOK, "POST", "/api/saml/settings", map[string]any{"metadata_xml": rolled}, nil)
		stale := ssoFormValues(token, f.project.ID)
		stale.Set("metadata_shown", string(shown[1]))
		stale.Set("idp_provider", "adfs")
		if resp := c.SubmitForm(t, "/organization/sso", stale); resp.Status != http.StatusSeeOther {
			t.Fatalf("save from a stale page = %d:\n%s", resp.Status, resp.Body)
		}
		if got, _ := ts.DB.FindSAMLConnection(ctx, f.org.ID); got.MetadataXML != rolled || got.IdPProvider != "adfs" {
			t.Fatalf("after a save from a stale page: provider %s, metadata %s", got.IdPProvider, got.MetadataXML)
		}
	})
}

// TestUISSOUpload: the metadata may come as a file in a multipart form,
// whose csrf_token field the CSRF check reads; files over 1 MiB are
// refused.
func TestUISSOUpload(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		ctx := context.Background()
		org, owner := ts.MustOrg(t, "acme")
		c := ts.SignInPage(t, owner.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/organization/sso"))
		form := url.Values{"csrf_token": {token}, "metadata_xml": {""}, "idp_provider": {"azure"}, "default_role": {"Not Activated"},
			"sign_authn_requests": {"on"}, "clock_skew_seconds": {"180"}}

		big := append([]byte(idpMetadata), bytes.Repeat([]byte(" "), 1<<20)...)
		resp := c.SubmitMultipart(t, "/organization/sso", form, "metadata_file", "idp.xml", big)
		wantPage(t, resp, http.StatusBadRequest, "Nothing was saved", "The metadata file is larger than 1 MiB")
		mustNoSSO(t, ts, org.ID, "a file over 1 MiB")

		resp = c.SubmitMultipart(t, "/organization/sso", form, "metadata_file", "FederationMetadata.xml", []byte("\n"+idpMetadata+"\n"))
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("upload = %d:\n%s", resp.Status, resp.Body)
		}
		got, err := ts.DB.FindSAMLConnection(ctx, org.ID)
		if err != nil || got.MetadataXML != idpMetadata || got.IdPProvider != "azure" {
			t.Fatalf("after the upload: %+v, %v", got, err)
		}

		// A multipart form whose file input was left empty keeps the text.
		form.Set("metadata_xml", got.MetadataXML)
		form.Set("idp_provider", "keycloak")
		if resp := c.SubmitMultipart(t, "/organization/sso", form, "metadata_file", "", nil); resp.Status != http.StatusSeeOther {
			t.Fatalf("multipart without a file = %d:\n%s", resp.Status, resp.Body)
		}
		if got, _ := ts.DB.FindSAMLConnection(ctx, org.ID); got.MetadataXML != idpMetadata || got.IdPProvider != "keycloak" {
			t.Fatalf("after a save without a file: %+v", got)
		}
		// A file that is not metadata is reported like pasted text.
		resp = c.SubmitMultipart(t, "/organization/sso", form, "metadata_file", "idp.xml", []byte("<html>not metadata</html>"))
		wantPage(t, resp, http.StatusBadRequest, "must be one IdP&#39;s metadata")
		if got, _ := ts.DB.FindSAMLConnection(ctx, org.ID); got.MetadataXML != idpMetadata {
			t.Fatal("refused metadata was saved")
		}
	})
}

// TestUISSONeedsCSRF: a form without the session's token, URL-encoded or
// multipart, is refused and changes nothing.
func TestUISSONeedsCSRF(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		org, owner := ts.MustOrg(t, "acme")
		c := ts.SignInPage(t, owner.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/organization/sso"))
		form := ssoFormValues(token, 0)
		form.Del("projects_groups")
		noToken := ssoFormValues("", 0)
		noToken.Del("csrf_token")
		noToken.Del("projects_groups")
		wrong := ssoFormValues(token+"x", 0)
		wrong.Del("projects_groups")

		for name, resp := range map[string]*Response{
			"urlencoded without token":  c.SubmitForm(t, "/organization/sso", noToken),
			"urlencoded wrong token":    c.SubmitForm(t, "/organization/sso", wrong),
			"multipart without token":   c.SubmitMultipart(t, "/organization/sso", noToken, "metadata_file", "idp.xml", []byte(idpMetadata)),
			"multipart wrong token":     c.SubmitMultipart(t, "/organization/sso", wrong, "metadata_file", "idp.xml", []byte(idpMetadata)),
			"multipart token in a file": c.SubmitMultipart(t, "/organization/sso", noToken, "csrf_token", "token.txt", []byte(token)),
		} {
			t.Run(name, func(t *testing.T) {
				wantPage(t, resp, http.StatusForbidden, "This form has expired or did not come from Glossa")
				mustNoSSO(t, ts, org.ID, name)
			})
		}
		if ev := mustAudit(t, ts, org.ID, "sso.settings.update"); len(ev) != 0 {
			t.Fatalf("refused forms were audited: %+v", ev)
		}

		// With the token the same forms go through, so the refusals above
		// were the token's doing.
		if resp := c.SubmitMultipart(t, "/organization/sso", form, "metadata_file", "idp.xml", []byte(idpMetadata)); resp.Status != http.StatusSeeOther {
			t.Fatalf("multipart with the token = %d:\n%s", resp.Status, resp.Body)
		}
		// Disconnecting needs it too.
		wantPage(t, c.SubmitForm(t, "/organization/sso/disconnect", url.Values{}), http.StatusForbidden, "This form has expired")
		if _, err := ts.DB.FindSAMLConnection(context.Background(), org.ID); err != nil {
			t.Fatalf("disconnected without the token: %v", err)
		}
	})
}

// TestUISSOBadMappings: mapping lines that cannot be read or do not
// validate are reported by line number, with every other problem, and
// nothing is saved; the form comes back as typed.
func TestUISSOBadMappings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		c := ts.SignInPage(t, f.owner.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/organization/sso"))
		form := ssoFormValues(token, f.project.ID)
		form.Set("roles_groups", "Annotator, labelers\r\n\r\nWizard, wizards\r\nno comma here\r\nOwner, bosses")
		form.Set("workspaces_groups", "\"Main, labelers\r\nMain,   ")
		form.Set("projects_groups", fmt.Sprintf("abc, g, Reviewer\r\n%d, reviewers\r\n999999, g, Reviewer\r\n%d, g, Boss", f.project.ID, f.project.ID))
		form.Set("domain", "acme.example, gmail.com")
		form.Set("clock_skew_seconds", "soon")

		resp := c.SubmitForm(t, "/organization/sso", form)
		wantPage(t, resp, http.StatusBadRequest, "Nothing was saved", `id="problems"`,
			"<li>Role mappings, line 3: Unknown role", "<li>Role mappings, line 4: write the role, a comma and the group",
			"<li>Role mappings, line 5: the Owner role cannot come from a group.",
			"<li>Workspace mappings, line 1: write the workspace", "<li>Workspace mappings, line 2: the group is empty.",
			"<li>Project mappings, line 1: “abc” is not a project ID", "<li>Project mappings, line 2: write the project ID",
			"<li>Project mappings, line 3: project 999999 is not a project of this organization.",
			"<li>Project mappings, line 4: Unknown project role",
			"gmail.com", "<li>Clock skew must be a whole number",
			// What was typed comes back.
			"Wizard, wizards\nno comma here", `value="acme.example, gmail.com"`, `value="soon"`, "&lt;md:EntityDescriptor")
		if strings.Contains(string(resp.Body), "line 1: Unknown role") || strings.Contains(string(resp.Body), "roles_groups[") {
			t.Errorf("a good line is reported, or the API's names are used:\n%s", resp.Body)
		}
		// Mapping problems come in the order of the form, by line.
		lines := regexp.MustCompile(`<li>(\w+) mappings, line (\d+)`).FindAllSubmatch(resp.Body, -1)
		var order []string
		for _, m := range lines {
			order = append(order, string(m[1][0])+string(m[2]))
		}
		if diff := cmp.Diff([]string{"R3", "R4", "R5", "W1", "W2", "P1", "P2", "P3", "P4"}, order); diff != "" {
			t.Errorf("order of the mapping problems (-want +got):\n%s", diff)
		}
		mustNoSSO(t, ts, f.org.ID, "bad mappings")
		if ev := mustAudit(t, ts, f.org.ID, "sso.settings.update"); len(ev) != 0 {
			t.Fatalf("a refused form was audited: %+v", ev)
		}

		// A refused upload keeps the file's content in the text box, so it
		// need not be chosen again.
		form = ssoFormValues(token, f.project.ID)
		form.Set("metadata_xml", "")
		form.Set("roles_groups", "Wizard, wizards")
		resp = c.SubmitMultipart(t, "/organization/sso", form, "metadata_file", "idp.xml", []byte(idpMetadata))
		wantPage(t, resp, http.StatusBadRequest, "Role mappings, line 1: Unknown role", "&lt;md:EntityDescriptor")
		mustNoSSO(t, ts, f.org.ID, "bad mappings with a file")

		// Enforcing without metadata is the API's rule, said on the page.
		form = ssoFormValues(token, f.project.ID)
		form.Set("metadata_xml", "")
		form.Set("enforce_sso", "on")
		wantPage(t, c.SubmitForm(t, "/organization/sso", form), http.StatusBadRequest, "enforce_sso needs a connected identity provider", `name="enforce_sso" value="on" checked`)
		mustNoSSO(t, ts, f.org.ID, "enforce without metadata")
	})
}

// TestUISSODisconnect: Disconnect deletes the connection, audited, and
// password sign-in works again.
func TestUISSODisconnect(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		c := ts.SignInPage(t, f.owner.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/organization/sso"))
		form := ssoFormValues(token, f.project.ID)
		form.Set("enforce_sso", "on")
		if resp := c.SubmitForm(t, "/organization/sso", form); resp.Status != http.StatusSeeOther {
			t.Fatalf("save = %d:\n%s", resp.Status, resp.Body)
		}
		if r := ts.Anonymous().Do(t, "POST", "/api/auth/login", map[string]string{"email": f.admin.Email, "password": testPassword}); r.Status != http.StatusForbidden {
			t.Fatalf("the Administrator signed in with a password under enforce_sso: %d", r.Status)
		}
		page := c.Page(t, "/organization/sso")
		wantPage(t, page, http.StatusOK, `action="/organization/sso/disconnect"`, `data-confirm="Disconnect the identity provider?`)

		resp := c.SubmitForm(t, "/organization/sso/disconnect", url.Values{"csrf_token": {token}})
		if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != "/organization/sso?notice=sso-disconnected" {
			t.Fatalf("disconnect = %d to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
		}
		mustNoSSO(t, ts, f.org.ID, "after disconnect")
		if len(mustAudit(t, ts, f.org.ID, "sso.settings.delete")) != 1 {
			t.Error("the disconnect was not audited")
		}
		wantPage(t, c.Page(t, resp.Header.Get("Location")), http.StatusOK, "Disconnected.", "not connected")
		ts.SignIn(t, f.admin.Email, testPassword)
	})
}

// TestFormBodiesAreBounded: a signed-in browser's form post is limited in
// size before the CSRF check parses it, and leaves no temporary files.
func TestFormBodiesAreBounded(t *testing.T) {
	ts := MustServer(t, "sqlite")
	_, owner := ts.MustOrg(t, "acme")
	c := ts.SignInPage(t, owner.Email, testPassword)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("metadata_file", "big.xml")
	fw.Write(bytes.Repeat([]byte("x"), 40<<20)) // beyond net/http's 32 MiB in memory: it would spill to a temporary file
	mw.Close()
	req, _ := http.NewRequest("POST", ts.URL+"/workspaces", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("a 40 MiB form was accepted: %d", resp.StatusCode)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}
