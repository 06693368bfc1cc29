package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// Helpers for driving the pages as a browser would: form posts with a
// cookie jar, and the CSRF token read back from the page.

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfFrom returns the CSRF token of the first form in a page.
func csrfFrom(tb testing.TB, page *Response) string {
	tb.Helper()
	m := csrfField.FindSubmatch(page.Body)
	if m == nil {
		tb.Fatalf("no csrf_token field in the page:\n%s", page.Body)
	}
	return string(m[1])
}

// SubmitForm posts a URL-encoded form, as a browser does, with no CSRF
// header: the token, if any, must be a form field.
func (c *Client) SubmitForm(tb testing.TB, path string, form url.Values) *Response {
	tb.Helper()
	req, err := http.NewRequest("POST", c.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.sendPage(tb, req)
}

// Page fetches a page (or anything else) with a GET.
func (c *Client) Page(tb testing.TB, path string) *Response {
	tb.Helper()
	req, err := http.NewRequest("GET", c.ts.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c.sendPage(tb, req)
}

func (c *Client) sendPage(tb testing.TB, req *http.Request) *Response {
	tb.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// SignInPage signs in through the sign-in form and returns the browser.
func (ts *TestServer) SignInPage(tb testing.TB, email, password string) *Client {
	tb.Helper()
	c := ts.Anonymous()
	resp := c.SubmitForm(tb, "/user/login", url.Values{"email": {email}, "password": {password}})
	if resp.Status != http.StatusSeeOther || resp.Header.Get("Location") != "/projects" {
		tb.Fatalf("sign-in form as %s = %d to %q, want 303 to /projects:\n%s", email, resp.Status, resp.Header.Get("Location"), resp.Body)
	}
	return c
}

// wantPage fails unless resp is an HTML page with the status that
// contains every one of the texts.
func wantPage(tb testing.TB, resp *Response, status int, texts ...string) {
	tb.Helper()
	if resp.Status != status {
		tb.Fatalf("status = %d, want %d:\n%s", resp.Status, status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		tb.Fatalf("Content-Type = %q, want an HTML page:\n%s", ct, resp.Body)
	}
	for _, text := range texts {
		if !strings.Contains(string(resp.Body), text) {
			tb.Errorf("the page lacks %q:\n%s", text, resp.Body)
		}
	}
}

func TestUISignInForm(t *testing.T) {
	ts := MustServer(t, "sqlite")
	org, owner := ts.MustOrg(t, "acme")

	t.Run("form", func(t *testing.T) {
		resp := ts.Anonymous().Page(t, "/user/login")
		wantPage(t, resp, http.StatusOK, `name="email"`, `name="password"`, "Continue with SSO", `action="/user/sso"`, `name="id"`)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("CSP = %q, want scripts from 'self' only", csp)
		}
	})

	t.Run("success", func(t *testing.T) {
		c := ts.SignInPage(t, owner.Email, testPassword)
		wantPage(t, c.Page(t, "/projects"), http.StatusOK, org.Title, owner.Email, "Owner", "Sign out")
	})

	t.Run("wrong password", func(t *testing.T) {
		c := ts.Anonymous()
		resp := c.SubmitForm(t, "/user/login", url.Values{"email": {owner.Email}, "password": {"not the password"}})
		wantPage(t, resp, http.StatusUnauthorized, "Wrong email or password", `value="`+owner.Email+`"`)
		if strings.Contains(string(resp.Body), "not the password") {
			t.Error("the page shows the password that was typed")
		}
		for _, ck := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(ck, auth.CookieName+"=") && !strings.Contains(ck, "Max-Age=0") {
				t.Errorf("a failed sign-in set a session cookie: %s", ck)
			}
		}
		// Signed out, the projects page still sends to the sign-in page.
		if resp := c.Page(t, "/projects"); resp.Status != http.StatusSeeOther {
			t.Errorf("GET /projects after a failed sign-in = %d, want 303", resp.Status)
		}
	})

	t.Run("throttled", func(t *testing.T) {
		c := ts.Anonymous()
		email := "someone@acme.example"
		for range auth.DefaultPerAccount {
			c.SubmitForm(t, "/user/login", url.Values{"email": {email}, "password": {"guess"}})
		}
		resp := c.SubmitForm(t, "/user/login", url.Values{"email": {email}, "password": {"guess"}})
		wantPage(t, resp, http.StatusTooManyRequests, "Too many failed sign-in attempts. Wait 15 minutes")
		if resp.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After header on a throttled sign-in")
		}
	})
}

func TestUIRedirectsToSignIn(t *testing.T) {
	ts := MustServer(t, "sqlite")
	c := ts.Anonymous()
	for path, want := range map[string]string{
		"/":                             "/user/login",
		"/projects":                     "/user/login?next=%2Fprojects",
		"/organization/members?page=2":  "/user/login?next=%2Forganization%2Fmembers%3Fpage%3D2",
		"/projects/12?filter=unlabeled": "/user/login?next=%2Fprojects%2F12%3Ffilter%3Dunlabeled",
	} {
		resp := c.Page(t, path)
		if got := resp.Header.Get("Location"); resp.Status != http.StatusSeeOther || got != want {
			t.Errorf("GET %s = %d to %q, want 303 to %q", path, resp.Status, got, want)
		}
	}
}

func TestUISignInNext(t *testing.T) {
	ts := MustServer(t, "sqlite")
	_, owner := ts.MustOrg(t, "acme")
	for _, tc := range []struct{ next, want string }{
		{"/organization/members", "/organization/members"},
		{"/projects/3?filter=labeled", "/projects/3?filter=labeled"},
		{"", "/projects"},
		{"//evil.example", "/projects"},
		{"//evil.example/projects", "/projects"},
		{`/\evil.example`, "/projects"},
		{"/\t/evil.example", "/projects"},
		{"https://evil.example/", "/projects"},
		{"javascript:alert(1)", "/projects"},
		{"evil.example", "/projects"},
		{"/user/login", "/projects"},
	} {
		c := ts.Anonymous()
		// The form carries next as it came in the sign-in link.
		page := c.Page(t, "/user/login?next="+url.QueryEscape(tc.next))
		wantPage(t, page, http.StatusOK)
		if strings.Contains(string(page.Body), "evil.example") {
			t.Errorf("next=%q: the sign-in form carries the foreign target", tc.next)
		}
		resp := c.SubmitForm(t, "/user/login", url.Values{"email": {owner.Email}, "password": {testPassword}, "next": {tc.next}})
		if got := resp.Header.Get("Location"); resp.Status != http.StatusSeeOther || got != tc.want {
			t.Errorf("sign in with next=%q = %d to %q, want 303 to %q", tc.next, resp.Status, got, tc.want)
		}
	}
}

func TestUIRoleChangeNeedsCSRF(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		ctx := context.Background()
		org, _ := ts.MustOrg(t, "acme")
		admin := ts.MustMember(t, org.ID, "admin@acme.example", glossa.RoleAdministrator)
		member := ts.MustMember(t, org.ID, "ann@acme.example", glossa.RoleAnnotator)
		c := ts.SignInPage(t, admin.Email, testPassword)
		page := c.Page(t, "/organization/members")
		wantPage(t, page, http.StatusOK, member.Email, `id="role-`+formatID(member.ID)+`"`)
		token := csrfFrom(t, page)
		path := "/organization/members/" + formatID(member.ID) + "/role"

		for name, form := range map[string]url.Values{
			"no token":    {"role": {"Manager"}},
			"wrong token": {"role": {"Manager"}, "csrf_token": {token + "x"}},
		} {
			resp := c.SubmitForm(t, path, form)
			wantPage(t, resp, http.StatusForbidden, "This form has expired or did not come from Glossa")
			m, err := ts.DB.FindMemberByID(ctx, org.ID, member.ID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Role != glossa.RoleAnnotator {
				t.Errorf("%s: the role changed to %s", name, m.Role)
			}
		}
		if events, _ := ts.DB.FindAuditEvents(ctx, glossa.AuditFilter{OrgID: org.ID, Action: "role.change"}); len(events) != 0 {
			t.Errorf("refused changes left %d role.change events", len(events))
		}

		resp := c.SubmitForm(t, path, url.Values{"role": {"Manager"}, "csrf_token": {token}})
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("role change with the token = %d, want 303:\n%s", resp.Status, resp.Body)
		}
		wantPage(t, c.Page(t, resp.Header.Get("Location")), http.StatusOK, "Role saved")
		if m, _ := ts.DB.FindMemberByID(ctx, org.ID, member.ID); m.Role != glossa.RoleManager {
			t.Errorf("role = %s, want Manager", m.Role)
		}

		// The Owner rules are changeRole's, and the page says them.
		resp = c.SubmitForm(t, "/organization/members/"+formatID(admin.ID)+"/role", url.Values{"role": {"Annotator"}, "csrf_token": {token}})
		wantPage(t, resp, http.StatusForbidden, "You cannot change your own role")
	})
}

func TestUISetup(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		ctx := context.Background()
		ts.Web.SetSetupToken("the-setup-token")
		form := func(slug string) url.Values {
			return url.Values{"token": {"the-setup-token"}, "org_name": {"Acme Labs"}, "slug": {slug},
				"email": {"owner@acme.example"}, "password": {testPassword}, "password2": {testPassword}}
		}

		wantPage(t, ts.Anonymous().Page(t, "/setup?token=wrong"), http.StatusNotFound, "This setup link is not valid")
		wantPage(t, ts.Anonymous().Page(t, "/setup?token=the-setup-token"), http.StatusOK, `name="org_name"`)

		// A mistake in the form does not use up the link.
		bad := form("Not A Slug!")
		bad.Set("password2", "something else")
		wantPage(t, ts.Anonymous().SubmitForm(t, "/setup", bad), http.StatusBadRequest, "is not valid", "The two passwords differ")
		wantPage(t, ts.Anonymous().Page(t, "/setup?token=the-setup-token"), http.StatusOK, `name="org_name"`)

		// Two submissions at once: exactly one creates an organization.
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		browsers := []*Client{ts.Anonymous(), ts.Anonymous()}
		for i, slug := range []string{"acme", "acme-two"} {
			wg.Go(func() { statuses[i] = browsers[i].SubmitForm(t, "/setup", form(slug)).Status })
		}
		wg.Wait()
		n, err := ts.DB.CountOrganizations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		created := 0
		for _, s := range statuses {
			if s == http.StatusSeeOther {
				created++
			}
		}
		if n != 1 || created != 1 {
			t.Fatalf("two setups at once: %d organizations, statuses %v; want 1 and one 303", n, statuses)
		}

		// The Owner is signed in, and the event is in the audit log.
		winner := browsers[0]
		if statuses[1] == http.StatusSeeOther {
			winner = browsers[1]
		}
		wantPage(t, winner.Page(t, "/projects?notice=setup-done"), http.StatusOK, "Acme Labs", "owner@acme.example", "Owner", "Your organization is ready")
		owner, err := ts.DB.FindMembersByEmail(ctx, "owner@acme.example")
		if err != nil || len(owner) != 1 || owner[0].Role != glossa.RoleOwner {
			t.Fatalf("owner accounts = %v, %v; want one Owner", owner, err)
		}
		events, err := ts.DB.FindAuditEvents(ctx, glossa.AuditFilter{OrgID: owner[0].OrgID, Action: "org.create"})
		if err != nil || len(events) != 1 {
			t.Errorf("org.create events = %d (%v), want 1", len(events), err)
		}

		// The link is used up.
		wantPage(t, ts.Anonymous().Page(t, "/setup?token=the-setup-token"), http.StatusGone, "Setup is already done")
		wantPage(t, ts.Anonymous().SubmitForm(t, "/setup", form("acme-three")), http.StatusGone, "Setup is already done")
		if n, _ := ts.DB.CountOrganizations(ctx); n != 1 {
			t.Errorf("%d organizations after the link was reused, want 1", n)
		}
	})
}

func TestUISignOut(t *testing.T) {
	ts := MustServer(t, "sqlite")
	_, owner := ts.MustOrg(t, "acme")
	c := ts.SignInPage(t, owner.Email, testPassword)
	page := c.Page(t, "/projects")
	cookies := c.http.Jar.Cookies(mustParseURL(t, ts.URL))

	resp := c.SubmitForm(t, "/user/logout", url.Values{"csrf_token": {csrfFrom(t, page)}})
	if got := resp.Header.Get("Location"); resp.Status != http.StatusSeeOther || got != "/user/login?notice=signed-out" {
		t.Fatalf("sign out = %d to %q", resp.Status, got)
	}
	wantPage(t, c.Page(t, "/user/login?notice=signed-out"), http.StatusOK, "You are signed out")

	// The old cookie, replayed, opens nothing: the session is gone server-side.
	replay := ts.Anonymous()
	replay.http.Jar.SetCookies(mustParseURL(t, ts.URL), cookies)
	if resp := replay.Page(t, "/projects"); resp.Status != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/user/login") {
		t.Errorf("GET /projects with the old cookie = %d to %q, want 303 to the sign-in page", resp.Status, resp.Header.Get("Location"))
	}
}

func TestUIErrorPages(t *testing.T) {
	ts := MustServer(t, "sqlite")
	org, _ := ts.MustOrg(t, "acme")
	ann := ts.MustMember(t, org.ID, "ann@acme.example", glossa.RoleAnnotator)
	c := ts.SignInPage(t, ann.Email, testPassword)

	resp := c.Page(t, "/no/such/page")
	wantPage(t, resp, http.StatusNotFound, "Page not found", "There is no page at this address", resp.Header.Get("X-Request-ID"))
	wantPage(t, c.Page(t, "/projects/999999"), http.StatusNotFound, "not found")
	wantPage(t, c.Page(t, "/organization/audit"), http.StatusForbidden, "Only Owners and Administrators can see the activity log")
	wantPage(t, c.Page(t, "/organization/members"), http.StatusForbidden, "Only Owners, Administrators and Managers")
	if body := string(c.Page(t, "/organization/audit").Body); strings.Contains(body, `"error"`) {
		t.Errorf("the error page is JSON: %s", body)
	}

	// The API keeps its JSON errors.
	resp = c.Page(t, "/api/no-such-endpoint")
	if resp.Status != http.StatusNotFound || resp.ErrorCode(t) != glossa.ENOTFOUND {
		t.Errorf("GET /api/no-such-endpoint = %d %s, want a JSON 404", resp.Status, resp.Body)
	}
}

func TestUIPages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ts *TestServer) {
		org, owner := ts.MustOrg(t, "acme")
		c := ts.SignInPage(t, owner.Email, testPassword)
		token := csrfFrom(t, c.Page(t, "/projects"))

		// Workspace, project, tasks.
		resp := c.SubmitForm(t, "/workspaces", url.Values{"csrf_token": {token}, "title": {"Reviews"}, "description": {"Customer reviews"}})
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("create workspace = %d:\n%s", resp.Status, resp.Body)
		}
		wantPage(t, c.Page(t, "/workspaces?notice=workspace-created"), http.StatusOK, "Reviews", "Customer reviews", "Workspace created")
		wss, err := ts.DB.FindWorkspaces(context.Background(), glossa.WorkspaceFilter{OrgID: org.ID})
		if err != nil || len(wss) != 1 {
			t.Fatalf("workspaces = %v, %v", wss, err)
		}
		wantPage(t, c.SubmitForm(t, "/projects", url.Values{"csrf_token": {token}, "title": {"Sentiment"}, "workspace": {formatID(wss[0].ID)}, "label_config": {"<View"}}),
			http.StatusUnprocessableEntity, `value="Sentiment"`)
		resp = c.SubmitForm(t, "/projects", url.Values{"csrf_token": {token}, "title": {"Sentiment"}, "workspace": {formatID(wss[0].ID)},
			"label_config": {`<View><Text name="text" value="$text"/></View>`}})
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("create project = %d:\n%s", resp.Status, resp.Body)
		}
		projectPath, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
		c.csrf = token
		c.Must(t, http.StatusCreated, "POST", "/api"+projectPath+"/import", `[{"data":{"text":"good"}},{"data":{"text":"bad"}}]`, nil)
		c.csrf = ""
		// The data manager shows the config's data fields as columns.
		wantPage(t, c.Page(t, projectPath), http.StatusOK, "Sentiment", "Reviews", `<span class="data">good</span>`, "Import tasks", "exportType=CSV", `id="import-form"`)
		wantPage(t, c.Page(t, projectPath+"?annotated=yes"), http.StatusOK, "No task matches these filters")

		// A hundred more tasks: the data manager lists 100 a page, oldest
		// first, and links to the rest by cursor; a heading sorts.
		var more strings.Builder
		more.WriteString("[")
		for i := range 100 {
			if i > 0 {
				more.WriteString(",")
			}
			more.WriteString(`{"data":{"text":"more ` + strconv.Itoa(i) + `"}}`)
		}
		more.WriteString("]")
		c.csrf = token
		c.Must(t, http.StatusCreated, "POST", "/api"+projectPath+"/import", more.String(), nil)
		c.csrf = ""
		first := c.Page(t, projectPath+"?annotated=no")
		wantPage(t, first, http.StatusOK, `<span class="data">good</span>`, `<span class="data">more 97</span>`, `id="dm-total">(102)`, `id="next-page"`)
		next := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindSubmatch(first.Body)
		if next == nil || strings.Contains(string(first.Body), "more 98<") {
			t.Fatalf("the first page lists more than 100 tasks or has no next page:\n%s", first.Body)
		}
		second := c.Page(t, strings.ReplaceAll(string(next[1]), "&amp;", "&"))
		wantPage(t, second, http.StatusOK, `<span class="data">more 98</span>`, `<span class="data">more 99</span>`, `id="first-page"`)
		if strings.Contains(string(second.Body), `id="next-page"`) || strings.Contains(string(second.Body), ">good<") {
			t.Errorf("the second page repeats tasks or links further:\n%s", second.Body)
		}
		newest := string(c.Page(t, projectPath+"?order=-id").Body)
		if i, j := strings.Index(newest, ">more 99<"), strings.Index(newest, ">more 98<"); i < 0 || j < 0 || i > j {
			t.Errorf("sorted by -id, more 99 does not come first:\n%s", newest)
		}
		wantPage(t, c.Page(t, "/projects"), http.StatusOK, "Sentiment", "New project")

		// Members: add one, then see them.
		resp = c.SubmitForm(t, "/organization/members", url.Values{"csrf_token": {token}, "email": {"new@acme.example"}, "role": {"Reviewer"}, "password": {"short"}})
		wantPage(t, resp, http.StatusBadRequest, "too short", `value="new@acme.example"`)
		resp = c.SubmitForm(t, "/organization/members", url.Values{"csrf_token": {token}, "email": {"new@acme.example"}, "role": {"Reviewer"}, "password": {testPassword}})
		if resp.Status != http.StatusSeeOther {
			t.Fatalf("add member = %d:\n%s", resp.Status, resp.Body)
		}
		wantPage(t, c.Page(t, "/organization/members"), http.StatusOK, "new@acme.example", "Reviewer", "2 members")
		ts.SignInPage(t, "new@acme.example", testPassword)

		// Tokens: create shows the secret once; revoke.
		resp = c.SubmitForm(t, "/tokens", url.Values{"csrf_token": {token}, "name": {"import script"}, "expires_in_days": {"7"}})
		wantPage(t, resp, http.StatusOK, "Copy it now", "glo_")
		secret := regexp.MustCompile(`<code id="new-token">(glo_[^<]+)</code>`).FindSubmatch(resp.Body)
		if secret == nil {
			t.Fatalf("no token on the page:\n%s", resp.Body)
		}
		ts.AsToken(string(secret[1])).Must(t, http.StatusOK, "GET", "/api/current-user/whoami", nil, nil)
		list := c.Page(t, "/tokens")
		wantPage(t, list, http.StatusOK, "import script", "Active")
		if strings.Contains(string(list.Body), string(secret[1])) {
			t.Error("the token list shows the secret again")
		}
		tokens, err := ts.DB.FindTokens(context.Background(), org.ID, owner.ID)
		if err != nil || len(tokens) != 1 {
			t.Fatalf("tokens = %v, %v", tokens, err)
		}
		if resp := c.SubmitForm(t, "/tokens/"+formatID(tokens[0].ID)+"/revoke", url.Values{"csrf_token": {token}}); resp.Status != http.StatusSeeOther {
			t.Fatalf("revoke = %d:\n%s", resp.Status, resp.Body)
		}
		wantPage(t, c.Page(t, "/tokens?notice=token-revoked"), http.StatusOK, "Token revoked", "Revoked")
		if resp := ts.AsToken(string(secret[1])).Do(t, "GET", "/api/current-user/whoami", nil); resp.Status != http.StatusUnauthorized {
			t.Errorf("revoked token = %d, want 401", resp.Status)
		}

		// The activity log shows what happened.
		wantPage(t, c.Page(t, "/organization/audit"), http.StatusOK, "member.add", "token.revoke", "signin")

		// Static assets are served, versioned links cached for long.
		for _, name := range []string{"app.css", "app.js"} {
			resp := c.Page(t, "/static/"+name)
			if resp.Status != http.StatusOK || len(resp.Body) == 0 {
				t.Errorf("GET /static/%s = %d", name, resp.Status)
			}
		}
		if resp := c.Page(t, "/static/"); resp.Status != http.StatusNotFound {
			t.Errorf("GET /static/ = %d, want 404 (no directory listing)", resp.Status)
		}
	})
}

// TestUITemplatesHaveNoInlineCode keeps the templates within the CSP:
// scripts and styles only from /static/, no inline handlers.
func TestUITemplatesHaveNoInlineCode(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	// A JSON data block is data the page's script reads, which browsers
	// never run: it is the one script element with content allowed.
	data := regexp.MustCompile(`<script type="application/json" id="[a-z-]+">\{\{\.[A-Za-z.]+\}\}</script>`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = data.ReplaceAll(b, nil)
		if loc := inline.FindIndex(b); loc != nil {
			t.Errorf("%s has inline code, which the CSP blocks: %q", f, b[loc[0]:min(loc[1]+40, len(b))])
		}
	}
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

func mustParseURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestUIManagerCreatesProject: a Manager creates projects only in the
// workspaces they belong to, and is offered exactly those.
func TestUIManagerCreatesProject(t *testing.T) {
	ts := MustServer(t, "sqlite")
	ctx := context.Background()
	org, owner := ts.MustOrg(t, "acme")
	manager := ts.MustMember(t, org.ID, "manager@acme.example", glossa.RoleManager)
	c := ts.SignInPage(t, manager.Email, testPassword)
	wantPage(t, c.Page(t, "/projects"), http.StatusOK, "You have no projects yet")

	ws := &glossa.Workspace{OrgID: org.ID, Title: "Team", CreatedBy: owner.ID}
	if err := ts.DB.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if err := ts.DB.AddWorkspaceMember(ctx, org.ID, ws.ID, manager.ID); err != nil {
		t.Fatal(err)
	}
	other := &glossa.Workspace{OrgID: org.ID, Title: "Elsewhere", CreatedBy: owner.ID}
	if err := ts.DB.CreateWorkspace(ctx, other); err != nil {
		t.Fatal(err)
	}
	page := c.Page(t, "/projects")
	wantPage(t, page, http.StatusOK, "New project", `<option value="`+formatID(ws.ID)+`"`)
	if body := string(page.Body); strings.Contains(body, "My sandbox") || strings.Contains(body, "Elsewhere") {
		t.Errorf("a Manager is offered the sandbox or a workspace they are not in:\n%s", body)
	}
	token := csrfFrom(t, page)
	if resp := c.SubmitForm(t, "/projects", url.Values{"csrf_token": {token}, "title": {"Ours"}, "workspace": {formatID(ws.ID)}}); resp.Status != http.StatusSeeOther {
		t.Fatalf("create in own workspace = %d:\n%s", resp.Status, resp.Body)
	}
	wantPage(t, c.SubmitForm(t, "/projects", url.Values{"csrf_token": {token}, "title": {"Theirs"}, "workspace": {formatID(other.ID)}}),
		http.StatusNotFound, "Not found")
	wantPage(t, c.SubmitForm(t, "/projects", url.Values{"csrf_token": {token}, "title": {"Nowhere"}}),
		http.StatusForbidden, "choose one")
}
