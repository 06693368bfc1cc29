package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
	"github.com/glossa-dev/glossa/secret"
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
		shown := metadataShownFrom(t, c.Page(t, "/organization/sso"))
		rolled := strings.Replace(idpMetadata, "https://idp.acme.example/sso", "https://idp2.acme.example/sso", 1)
		ts.As(t, f.owner).Must(t, http.StatusOK, "POST", "/api/saml/settings", map[string]any{"metadata_xml": rolled}, nil)
		stale := ssoFormValues(token, f.project.ID)
		stale.Set("metadata_shown", shown)
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

// metadataShownFrom returns the digest of the metadata a settings page
// showed, from its hidden metadata_shown field.
func metadataShownFrom(t *testing.T, page *Response) string {
	t.Helper()
	m := regexp.MustCompile(`name="metadata_shown" value="([0-9a-f]{64})"`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatal("no metadata_shown field on the page")
	}
	return string(m[1])
}

// TestUISSOMetadataURL: the page takes the IdP's metadata as a URL too:
// fetched at the save (a URL that fails is refused with the reason and
// nothing is saved), shown afterwards with its last fetch; giving a URL
// and other metadata at once is refused; emptying the URL stops the
// refreshes and keeps the copy; pasting metadata replaces the URL.
func TestUISSOMetadataURL(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		ctx := context.Background()
		org, owner := ts.MustOrg(t, "acme")
		ts.Web.Metadata = fakeFetcher{"https://idp.acme.example/md": idpMetadata}
		c := ts.SignInPage(t, owner.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/organization/sso"))
		form := url.Values{"csrf_token": {token}, "metadata_xml": {""}, "idp_provider": {"okta"}, "default_role": {"Not Activated"},
			"sign_authn_requests": {"on"}, "clock_skew_seconds": {"180"}}

		form.Set("metadata_url", "https://idp.acme.example/missing")
		wantPage(t, c.SubmitForm(t, "/organization/sso", form), http.StatusBadRequest, "Nothing was saved", "metadata_url: The metadata URL answered HTTP 404",
			`value="https://idp.acme.example/missing"`) // what was typed comes back
		mustNoSSO(t, ts, org.ID, "a metadata URL that fails")

		form.Set("metadata_url", "https://idp.acme.example/md")
		if resp := c.SubmitForm(t, "/organization/sso", form); resp.Status != http.StatusSeeOther {
			t.Fatalf("save with a URL = %d:\n%s", resp.Status, resp.Body)
		}
		got, err := ts.DB.FindSAMLConnection(ctx, org.ID)
		if err != nil || got.MetadataURL != "https://idp.acme.example/md" || got.MetadataXML != idpMetadata || got.FetchedAt == nil {
			t.Fatalf("after saving a URL: %+v, %v", got, err)
		}
		page := c.Page(t, "/organization/sso")
		wantPage(t, page, http.StatusOK, `id="metadata-url"`, "The metadata is fetched from <code>https://idp.acme.example/md</code>",
			`name="metadata_url" type="url" value="https://idp.acme.example/md"`)

		// A URL and pasted metadata at once: which one is meant?
		both := url.Values{}
		for k, v := range form {
			both[k] = v
		}
		both.Set("metadata_url", "https://idp.acme.example/other")
		both.Set("metadata_xml", idpMetadata+"<!-- edited -->")
		both.Set("metadata_shown", metadataShownFrom(t, page))
		wantPage(t, c.SubmitForm(t, "/organization/sso", both), http.StatusBadRequest, "Give the IdP metadata one way")
		if after, _ := ts.DB.FindSAMLConnection(ctx, org.ID); after.MetadataURL != got.MetadataURL {
			t.Fatal("a refused form changed the metadata URL")
		}

		// Emptying the URL keeps the metadata last fetched.
		form.Set("metadata_url", "")
		form.Set("metadata_xml", idpMetadata)
		form.Set("metadata_shown", metadataShownFrom(t, page))
		if resp := c.SubmitForm(t, "/organization/sso", form); resp.Status != http.StatusSeeOther {
			t.Fatalf("emptying the URL = %d:\n%s", resp.Status, resp.Body)
		}
		if after, _ := ts.DB.FindSAMLConnection(ctx, org.ID); after.MetadataURL != "" || after.MetadataXML != idpMetadata {
			t.Fatalf("after emptying the URL: %+v", after)
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

// rotatingSAML is realSAML (acs_bench_test.go: the SP built by the saml
// package from the sealed keys in the store) that rotates the keys as
// cmd/glossa does: a new signing and a new encryption pair, sealed and
// stored.
type rotatingSAML struct{ *realSAML }

func (p rotatingSAML) RotateKeys(ctx context.Context, org *glossa.Organization) error {
	for _, purpose := range []string{glossa.KeySigning, glossa.KeyEncryption} {
		kp, err := saml.GenerateKeyPair(fmt.Sprintf("Glossa SP %s (%s)", org.Slug, purpose), time.Now())
		if err != nil {
			return err
		}
		keyPEM, certPEM, err := kp.MarshalPEM()
		if err != nil {
			return err
		}
		sealed, err := p.sealer.Seal(keyPEM, spKeyAD(org.ID, purpose))
		if err != nil {
			return err
		}
		if err := p.store.CreateSPKey(ctx, &glossa.SPKey{OrgID: org.ID, Purpose: purpose, CertPEM: string(certPEM), SealedKey: sealed}); err != nil {
			return err
		}
	}
	return nil
}

// mustRealSSO connects org to an IdP through the real saml package: its
// first SP keys (made as a rotation makes them, which is how cmd/glossa
// makes them too) and IdP metadata with a signing certificate, so that
// /saml/{org}/metadata serves what cmd/glossa would.
func mustRealSSO(t *testing.T, ts *TestServer, org *glossa.Organization, owner *glossa.Member) {
	t.Helper()
	sealer, err := secret.New(randomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	sp := rotatingSAML{&realSAML{store: ts.DB, sealer: sealer, baseURL: ts.Web.BaseURL}}
	ts.Web.SAML = sp
	if err := sp.RotateKeys(context.Background(), org); err != nil {
		t.Fatal(err)
	}
	k := samlattack.MustKeys(t)
	ts.As(t, owner).Must(t, http.StatusOK, "POST", "/api/saml/settings", map[string]any{"metadata_xml": k.PlainIdPMetadata(samlattack.IdPEntityID, k.IdPCert)}, nil)
}

// spKeyCerts lists the organization's live SP keys from the store as
// "purpose fingerprint", sorted, and their IDs by fingerprint.
func spKeyCerts(t *testing.T, ts *TestServer, orgID int64) ([]string, map[string]int64) {
	t.Helper()
	keys, err := ts.DB.FindSPKeys(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	ids := map[string]int64{}
	for _, k := range keys {
		b, _ := pem.Decode([]byte(k.CertPEM))
		if b == nil {
			t.Fatalf("SP key %d has no PEM certificate", k.ID)
		}
		fp := fingerprint(b.Bytes)
		list = append(list, k.Purpose+" "+fp)
		ids[fp] = k.ID
	}
	slices.Sort(list)
	return list, ids
}

// publishedCerts reads the SP metadata as an IdP does and lists its
// certificates as "use fingerprint", sorted.
func publishedCerts(t *testing.T, ts *TestServer, slug string) []string {
	t.Helper()
	resp := ts.Anonymous().Do(t, "GET", "/saml/"+slug+"/metadata", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("SP metadata = %d: %s", resp.Status, resp.Body)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(resp.Body); err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, kd := range doc.FindElements("//KeyDescriptor") {
		der, err := base64.StdEncoding.DecodeString(kd.FindElement(".//X509Certificate").Text())
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, kd.SelectAttrValue("use", "")+" "+fingerprint(der))
	}
	slices.Sort(list)
	return list
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// keyFields are the hidden key fields of the Finish the rotation form.
var keyFields = regexp.MustCompile(`name="key" value="([0-9]+)"`)

// finishForm is the page's Finish the rotation form as a browser sends it.
func finishForm(t *testing.T, page *Response) url.Values {
	t.Helper()
	form := url.Values{"csrf_token": {csrfFrom(t, page)}}
	for _, m := range keyFields.FindAllSubmatch(page.Body, -1) {
		form.Add("key", string(m[1]))
	}
	if len(form["key"]) == 0 {
		t.Fatalf("the page offers no key to retire:\n%s", page.Body)
	}
	return form
}

// TestUISSOKeyRotation: the page lists Glossa's SP keys; a rotation
// started from it publishes the old and the new keys, and finishing it
// leaves only the new ones in the SP metadata. Finishing retires the keys
// the page showed, not those of a rotation started since. Only Owners
// and Administrators, with the form's token, can rotate or retire.
func TestUISSOKeyRotation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		f := mustFixture(t, ts, "acme")
		mustRealSSO(t, ts, f.org, f.owner)
		c := ts.SignInPage(t, f.owner.Email, testPassword)
		page := c.Page(t, "/organization/sso")
		token := csrfFrom(t, page)

		first, firstIDs := spKeyCerts(t, ts, f.org.ID)
		if len(first) != 2 {
			t.Fatalf("keys before the rotation: %v", first)
		}
		want := []string{`id="sp-key-list"`, "Current (signs)", "Current (decrypts)", "Published", `id="rotate-keys"`, "To replace the keys, start a rotation."}
		for fp := range firstIDs {
			want = append(want, fp)
		}
		wantPage(t, page, http.StatusOK, want...)
		if strings.Contains(string(page.Body), "Retiring") || strings.Contains(string(page.Body), `id="finish-rotation"`) {
			t.Fatal("a rotation is shown before one started")
		}
		if diff := cmp.Diff(first, publishedCerts(t, ts, "acme")); diff != "" {
			t.Fatalf("published before the rotation (-live keys +metadata):\n%s", diff)
		}

		// Start: the new keys join the old ones in the metadata.
		resp := c.SubmitForm(t, "/organization/sso/keys/rotate", url.Values{"csrf_token": {token}})
		if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != "/organization/sso?notice=sso-keys-rotated#sp-keys" {
			t.Fatalf("rotate = %d to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
		}
		during, duringIDs := spKeyCerts(t, ts, f.org.ID)
		if len(during) != 4 {
			t.Fatalf("keys during the rotation: %v", during)
		}
		if diff := cmp.Diff(during, publishedCerts(t, ts, "acme")); diff != "" {
			t.Fatalf("published during the rotation (-live keys +metadata):\n%s", diff)
		}
		if len(mustAudit(t, ts, f.org.ID, "sso.keys.rotate")) != 1 {
			t.Error("the rotation was not audited")
		}
		page = c.Page(t, resp.Header.Get("Location"))
		wantPage(t, page, http.StatusOK, "Rotation started. Download the new SP metadata and upload it to your IdP, then come back and finish the rotation.",
			"A rotation is under way.", "Retiring (no longer signs)", "Retiring (still decrypts)", "Current (signs)",
			`href="`+ts.URL+`/saml/acme/metadata?download=1" id="sp-keys-download"`, `id="finish-rotation"`)
		finish := finishForm(t, page)
		var old []string
		for _, id := range firstIDs {
			old = append(old, formatID(id))
		}
		slices.Sort(old)
		if diff := cmp.Diff(old, slices.Sorted(slices.Values(finish["key"]))); diff != "" {
			t.Fatalf("keys the Finish form retires (-old keys +form):\n%s", diff)
		}

		// Nobody else, and no form without the token, changes the keys.
		annotator := ts.SignInPage(t, f.annotat.Email, testPassword)
		aToken := csrfFrom(t, annotator.Page(t, "/projects"))
		for name, resp := range map[string]*Response{
			"Annotator rotates": annotator.SubmitForm(t, "/organization/sso/keys/rotate", url.Values{"csrf_token": {aToken}}),
			"Annotator retires": annotator.SubmitForm(t, "/organization/sso/keys/retire", url.Values{"csrf_token": {aToken}, "key": finish["key"]}),
		} {
			t.Run(name, func(t *testing.T) { wantPage(t, resp, http.StatusForbidden, "Only Owners and Administrators") })
		}
		for name, resp := range map[string]*Response{
			"rotate without token": c.SubmitForm(t, "/organization/sso/keys/rotate", url.Values{}),
			"retire without token": c.SubmitForm(t, "/organization/sso/keys/retire", url.Values{"key": finish["key"]}),
		} {
			t.Run(name, func(t *testing.T) {
				wantPage(t, resp, http.StatusForbidden, "This form has expired or did not come from Glossa")
			})
		}
		// A current key is refused with the API's sentence, and then none
		// of the form's keys is retired either.
		var newest int64
		for _, id := range duringIDs {
			newest = max(newest, id)
		}
		current := url.Values{"csrf_token": {token}, "key": {old[0], formatID(newest)}}
		wantPage(t, c.SubmitForm(t, "/organization/sso/keys/retire", current), http.StatusConflict, "Rotate first, give the IdP the new metadata, then retire the old key.")
		if got, _ := spKeyCerts(t, ts, f.org.ID); !slices.Equal(got, during) {
			t.Fatalf("refused forms changed the keys: %v", got)
		}
		if n := len(mustAudit(t, ts, f.org.ID, "sso.keys.rotate")) + len(mustAudit(t, ts, f.org.ID, "sso.keys.retire")); n != 1 {
			t.Fatalf("refused forms were audited: %d key events, want the one rotation", n)
		}

		// Meanwhile an Administrator starts another rotation through the
		// API. Finishing from the page opened before retires only the
		// keys it showed: the first rotation's keys, which the IdP may
		// have taken up by now, stay until a page that shows them as
		// old is used to finish.
		ts.As(t, f.admin).Must(t, http.StatusCreated, "POST", "/api/saml/keys/rotate", nil, nil)
		resp = c.SubmitForm(t, "/organization/sso/keys/retire", finish)
		if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != "/organization/sso?notice=sso-keys-retired#sp-keys" {
			t.Fatalf("finish = %d to %q:\n%s", resp.Status, resp.Header.Get("Location"), resp.Body)
		}
		live, _ := spKeyCerts(t, ts, f.org.ID)
		if len(live) != 4 || slices.ContainsFunc(first, func(k string) bool { return slices.Contains(live, k) }) {
			t.Fatalf("after finishing the first rotation: live %v, first keys %v", live, first)
		}
		if diff := cmp.Diff(live, publishedCerts(t, ts, "acme")); diff != "" {
			t.Fatalf("published during the second rotation (-live keys +metadata):\n%s", diff)
		}
		page = c.Page(t, resp.Header.Get("Location"))
		wantPage(t, page, http.StatusOK, "The old keys are retired.", "A rotation is under way.", "Retiring (no longer signs)")

		// Finish the second: only its keys are left, in the store and the
		// metadata.
		resp = c.SubmitForm(t, "/organization/sso/keys/retire", finishForm(t, page))
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("finish the second rotation = %d:\n%s", resp.Status, resp.Body)
		}
		var latest []string
		for _, k := range live {
			if !slices.Contains(during, k) {
				latest = append(latest, k)
			}
		}
		after, _ := spKeyCerts(t, ts, f.org.ID)
		if len(latest) != 2 || !slices.Equal(latest, after) {
			t.Fatalf("keys after the rotations: %v, want the last rotation's %v", after, latest)
		}
		if diff := cmp.Diff(latest, publishedCerts(t, ts, "acme")); diff != "" {
			t.Fatalf("published after the rotations (-new keys +metadata):\n%s", diff)
		}
		if len(mustAudit(t, ts, f.org.ID, "sso.keys.retire")) != 4 {
			t.Error("the retirements were not audited, one event per key")
		}
		page = c.Page(t, resp.Header.Get("Location"))
		wantPage(t, page, http.StatusOK, "The old keys are retired.", `id="rotate-keys"`)
		if strings.Contains(string(page.Body), "Retiring") {
			t.Error("retired keys are still listed")
		}
		// Sending a form again (a second tab) is harmless.
		if resp := c.SubmitForm(t, "/organization/sso/keys/retire", finish); resp.Status != http.StatusSeeOther {
			t.Fatalf("finish again = %d:\n%s", resp.Status, resp.Body)
		}
		if len(mustAudit(t, ts, f.org.ID, "sso.keys.retire")) != 4 {
			t.Error("finishing again retired something")
		}
	})
}

// signedIdPMetadata is IdP metadata with a signing certificate, signed by
// the IdP's key as IdPs sign what they publish: an enveloped signature,
// first child of the root (SAML metadata §3.1), which is where
// samlattack's Sign puts it in an element without an Issuer.
func signedIdPMetadata(t *testing.T) string {
	t.Helper()
	k := samlattack.MustKeys(t)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(k.PlainIdPMetadata(samlattack.IdPEntityID, k.IdPCert)); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	root.CreateAttr("ID", "_metadata")
	doc.SetRoot(samlattack.NewFixture(t).Sign(root, &samlattack.Options{}))
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// checkingFetcher serves metadata URLs from a map and reads metadata as
// cmd/glossa's fetcher does, with saml.ParseIdPMetadata, against the
// pinned certificate when one is set.
type checkingFetcher map[string]string

func (f checkingFetcher) CheckMetadata(doc, pinnedCertPEM string) error {
	_, err := saml.ParseIdPMetadata([]byte(doc), pinnedCertPEM)
	return err
}

func (f checkingFetcher) FetchMetadata(ctx context.Context, url, pinnedCertPEM string) ([]byte, error) {
	doc, err := fakeFetcher(f).FetchMetadata(ctx, url, pinnedCertPEM)
	if err == nil {
		err = f.CheckMetadata(string(doc), pinnedCertPEM)
	}
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// TestUISSOMetadataPin: the form pins the certificate that must sign the
// IdP metadata and removes the pin; the page shows the pinned certificate
// and whether the metadata in use was verified against it. A pin that is
// not a certificate, or that did not sign the metadata, is refused with a
// sentence and changes nothing.
func TestUISSOMetadataPin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		ctx := context.Background()
		org, owner := ts.MustOrg(t, "acme")
		k := samlattack.MustKeys(t)
		signed := signedIdPMetadata(t)
		const mdURL = "https://idp.example.net/saml/metadata"
		ts.Web.Metadata = checkingFetcher{mdURL: signed}
		ts.As(t, owner).Must(t, http.StatusOK, "POST", "/api/saml/settings", map[string]any{"metadata_url": mdURL}, nil)

		c := ts.SignInPage(t, owner.Email, testPassword)
		page := c.Page(t, "/organization/sso")
		wantPage(t, page, http.StatusOK, `name="metadata_signing_cert"`, "No certificate is pinned")
		form := ssoFormValues(csrfFrom(t, page), 0)
		form.Del("projects_groups")
		form.Set("metadata_xml", signed) // as the page shows it: unchanged

		// Pin the certificate that signs the metadata (pasted with the
		// CRLF line ends of a text box).
		pin := certPEM(k.IdPCert)
		form.Set("metadata_signing_cert", strings.ReplaceAll(pin, "\n", "\r\n"))
		resp := c.SubmitForm(t, "/organization/sso", form)
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("pin = %d:\n%s", resp.Status, resp.Body)
		}
		saved, err := ts.DB.FindSAMLConnection(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if saved.MetadataSigningCert != strings.TrimSpace(pin) || saved.MetadataURL != mdURL || saved.MetadataXML != signed {
			t.Fatalf("after pinning: pin %q, URL %q, metadata changed %v", saved.MetadataSigningCert, saved.MetadataURL, saved.MetadataXML != signed)
		}
		fetched := saved.FetchedAt.UTC().Format("2006-01-02 15:04 UTC")
		wantPage(t, c.Page(t, resp.Header.Get("Location")), http.StatusOK, "Saved.", "-----BEGIN CERTIFICATE-----",
			"Pinned: <code>CN=idp.example.net</code>", fingerprint(k.IdPCert.Raw), "valid until "+k.IdPCert.NotAfter.UTC().Format(time.DateOnly),
			"Verified: the metadata of the last fetch, "+fetched+", is signed by this certificate.")

		for _, tc := range []struct{ name, pin, want string }{
			{"not a certificate", "not a certificate", "The metadata signing certificate is not a PEM certificate: paste the certificate"},
			{"a key", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQc=\n-----END PUBLIC KEY-----", "The metadata signing certificate is not a PEM certificate: paste the certificate"},
			{"another certificate", certPEM(k.IdP2Cert), "The IdP metadata is not signed by the pinned certificate."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := url.Values{}
				for k, v := range form {
					bad[k] = v
				}
				bad.Set("metadata_signing_cert", tc.pin)
				wantPage(t, c.SubmitForm(t, "/organization/sso", bad), http.StatusBadRequest, "Nothing was saved", "<li>"+tc.want,
					tc.pin[:10]) // what was typed comes back
				got, err := ts.DB.FindSAMLConnection(ctx, org.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(saved, got); diff != "" {
					t.Fatalf("a refused pin changed the connection (-before +after):\n%s", diff)
				}
			})
		}
		if n := len(mustAudit(t, ts, org.ID, "sso.settings.update")); n != 2 {
			t.Fatalf("%d saves audited, want 2 (the URL and the pin)", n)
		}

		// A fetch that fails the check is not used; the page says so.
		failed := *saved
		failed.FetchError = "The IdP metadata is not signed by the pinned certificate. The last good copy stays in use."
		if err := ts.DB.SaveSAMLConnection(ctx, &failed); err != nil {
			t.Fatal(err)
		}
		wantPage(t, c.Page(t, "/organization/sso"), http.StatusOK, "The last fetch, "+fetched+", was not used: "+failed.FetchError+" The copy in use is signed by this certificate.")

		// Emptying the box removes the pin.
		form.Set("metadata_signing_cert", "")
		if resp := c.SubmitForm(t, "/organization/sso", form); resp.Status != http.StatusSeeOther {
			t.Fatalf("unpin = %d:\n%s", resp.Status, resp.Body)
		}
		if got, _ := ts.DB.FindSAMLConnection(ctx, org.ID); got.MetadataSigningCert != "" {
			t.Fatalf("the pin is still %q", got.MetadataSigningCert)
		}
		wantPage(t, c.Page(t, "/organization/sso"), http.StatusOK, "No certificate is pinned")
	})
}
