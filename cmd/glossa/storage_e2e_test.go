package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/glossa-dev/glossa/internal/browsertest"
	"github.com/glossa-dev/glossa/internal/idptest"
	"github.com/glossa-dev/glossa/internal/s3test"
	"github.com/glossa-dev/glossa/internal/stsemu"
)

// The federated storage rig: SeaweedFS with one role per team and a
// curator role, the STS emulator trusting SimpleSAMLphp as the IAM SAML
// provider "glossa-idp", and SimpleSAMLphp releasing AWS's Role and
// RoleSessionName attributes with urn:amazon:webservices among the
// audiences, as a customer's IdP would for a response that Glossa redeems
// at STS.
const (
	account     = "000000000000"
	providerARN = "arn:aws:iam::" + account + ":saml-provider/glossa-idp"
	scans       = "scans"
	exports     = "exports"
	// federatedSession is how long SeaweedFS lets a session live: short,
	// so that the test sees credentials and presigned URLs expire.
	federatedSession = 90 * time.Second
)

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// teamRolePolicy lets a team read scans/<team>/ and write exports/<team>/,
// and list both buckets (what it may read is decided per object).
func teamRolePolicy(team string) string {
	return `{"Version": "2012-10-17", "Statement": [
	{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::scans/` + team + `/*"]},
	{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::exports/` + team + `/*"]},
	{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::scans", "arn:aws:s3:::exports"]}]}`
}

const curatorPolicy = `{"Version": "2012-10-17", "Statement": [
	{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::scans/*", "arn:aws:s3:::exports/*"]},
	{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::scans", "arn:aws:s3:::exports"]}]}`

// samlTrust is a role's trust policy for SAML users of the provider whose
// response was addressed to Glossa's ACS: SAML:aud is the Recipient of the
// bearer confirmation, so it is Glossa's ACS URL, not AWS's sign-in page.
func samlTrust(acs string) string {
	return `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
	"Principal": {"Federated": "` + providerARN + `"}, "Action": "sts:AssumeRoleWithSAML",
	"Condition": {"StringEquals": {"SAML:aud": "` + acs + `"}}}]}`
}

// awsUser is a SimpleSAMLphp user with AWS's role attribute: pairs are
// "role,provider" (or the other way round: AWS takes either order).
func awsUser(name, group string, pairs ...string) idptest.User {
	u := idptest.User{Username: name, Password: name + "-password", Email: name + "@example.com",
		FirstName: strings.ToUpper(name[:1]) + name[1:], Groups: []string{group},
		Attributes: map[string][]string{"https://aws.amazon.com/SAML/Attributes/RoleSessionName": {name + "@example.com"}}}
	if len(pairs) > 0 {
		u.Attributes["https://aws.amazon.com/SAML/Attributes/Role"] = pairs
	}
	return u
}

func pngBytes(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for x := range 8 {
		for y := range 6 {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// federatedRig is everything the federated storage tests run against.
type federatedRig struct {
	s3   *s3test.Server
	sts  *httptest.Server
	emu  *stsemu.Emulator
	idp  *idptest.IdP
	srv  *e2eServer
	env  map[string]string
	acs  string
	ws   int64
	proj int64
	// dataKey is the task data field of blob tasks: "image" unless the
	// project's labeling config names another.
	dataKey string
	imgA    []byte
	imgB    []byte
}

// startFederatedRig starts the rig; SeaweedFS sessions last at most
// maxSession (0: 12 hours).
func startFederatedRig(t *testing.T, maxSession time.Duration) *federatedRig {
	t.Helper()
	r := &federatedRig{dataKey: "image", imgA: pngBytes(t, color.RGBA{200, 0, 0, 255}), imgB: pngBytes(t, color.RGBA{0, 0, 200, 255})}
	r.s3 = s3test.Start(t, s3test.Config{
		Roles: []s3test.Role{
			{Name: "TeamA", Policy: teamRolePolicy("teamA")},
			{Name: "TeamB", Policy: teamRolePolicy("teamB")},
			{Name: "Curator", Policy: curatorPolicy},
		},
		Buckets:          []string{scans, exports},
		MaxSessionLength: maxSession,
	})
	r.s3.Put(t, scans, "teamA/1.png", r.imgA)
	r.s3.Put(t, scans, "teamA/2.png", r.imgA)
	r.s3.Put(t, scans, "teamB/1.png", r.imgB)

	r.srv, r.env = startE2EServerEnv(t, map[string]string{
		// Glossa's own principal (assume_role and broker modes) is the
		// rig's broker identity, which may assume every role.
		"GLOSSA_AWS_ACCESS_KEY_ID": r.s3.BrokerKey, "GLOSSA_AWS_SECRET_ACCESS_KEY": r.s3.BrokerSecret,
	})
	r.acs = r.srv.base + "/saml/acme/acs"
	r.srv.api(t, "POST", "/api/saml/settings", map[string]any{"metadata_xml": placeholderMetadata(t)}, 200)
	_, spMetadata := r.srv.get(t, http.DefaultClient, "/saml/acme/metadata")
	r.idp = idptest.StartSimpleSAMLphp(t, idptest.SP{MetadataXML: spMetadata}, idptest.Options{
		SignResponse: true, SignAssertion: true,
		Audiences: []string{"urn:amazon:webservices"},
		Users: []idptest.User{
			awsUser("alice", "team-a", roleARN("TeamA")+","+providerARN),
			awsUser("bob", "team-b", providerARN+","+roleARN("TeamB")), // the other order
			awsUser("carol", "curators", roleARN("Curator")+","+providerARN),
			awsUser("dave", "team-a"), // no AWS role at all
		},
	})
	r.srv.api(t, "POST", "/api/saml/settings", map[string]any{
		"metadata_xml": string(r.idp.MetadataXML), "idp_provider": "custom",
		"mapping_email": "email", "mapping_first_name": "givenName", "mapping_groups": "groups",
		"roles_groups":      [][]string{{"Annotator", "team-a"}, {"Annotator", "team-b"}, {"Manager", "curators"}},
		"workspaces_groups": [][]string{{"Scans", "team-a"}, {"Scans", "team-b"}, {"Scans", "curators"}},
	}, 200)

	r.emu = &stsemu.Emulator{
		Account:   account,
		Providers: []stsemu.Provider{{ARN: providerARN, Metadata: r.idp.MetadataXML}},
		Roles: []stsemu.Role{
			{ARN: roleARN("TeamA"), TrustPolicy: samlTrust(r.acs)},
			{ARN: roleARN("TeamB"), TrustPolicy: samlTrust(r.acs)},
			{ARN: roleARN("Curator"), TrustPolicy: samlTrust(r.acs)},
		},
		Issuer: stsemu.SeaweedIssuer(r.s3.Endpoint, r.s3.Region, r.s3.BrokerKey, r.s3.BrokerSecret),
	}
	if err := r.emu.Check(); err != nil {
		t.Fatal(err)
	}
	r.sts = httptest.NewServer(r.emu)
	t.Cleanup(r.sts.Close)

	r.ws = int64(r.srv.api(t, "POST", "/api/workspaces", map[string]any{"title": "Scans"}, 201)["id"].(float64))
	r.proj = r.project(t, "Scans")
	return r
}

// imageConfig is the labeling configuration of the rig's projects: an
// image (the blob URL's field) and a choice about it.
const imageConfig = `<View><Image name="image" value="$image"/><Choices name="label" toName="image"><Choice value="ok"/><Choice value="not ok"/></Choices></View>`

// project creates a project in the rig's workspace, which the IdP groups
// give everyone.
func (r *federatedRig) project(t *testing.T, title string) int64 {
	t.Helper()
	return int64(r.srv.api(t, "POST", "/api/projects", map[string]any{"title": title, "workspace": r.ws, "label_config": imageConfig}, 201)["id"].(float64))
}

// storage is the body of a storage of the rig's buckets.
func (r *federatedRig) storage(fields map[string]any) map[string]any {
	b := map[string]any{"project": r.proj, "region_name": r.s3.Region, "s3_endpoint": r.s3.Endpoint,
		"sts_endpoint": r.sts.URL, "session_duration": 3600}
	for k, v := range fields {
		b[k] = v
	}
	return b
}

// person is someone signed in through the IdP, with a browser (cookie
// jar) and an API token of their own.
type person struct {
	name    string
	browser *http.Client
	token   string
	id      int64
}

// signIn signs name in through SimpleSAMLphp, SP-initiated, returning to next.
func (r *federatedRig) signIn(t *testing.T, p *person, next string) *http.Response {
	t.Helper()
	if p.browser == nil {
		p.browser = browser()
	}
	acs, response, relay := r.idp.Login(t, p.browser, r.srv.base+"/saml/acme/login?next="+url.QueryEscape(next), p.name, p.name+"-password")
	resp := postACS(t, p.browser, acs, response, relay)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s's sign-in: ACS answered %d", p.name, resp.StatusCode)
	}
	if p.token == "" {
		tok, _, err := runCLI(t, r.env, "token", "create", "--email", p.name+"@example.com")
		if err != nil {
			t.Fatal(err)
		}
		p.token = strings.TrimSpace(tok)
		p.id = int64(whoami(t, r.srv, p.browser)["id"].(float64))
	}
	return resp
}

// call sends an API request with p's token and decodes a JSON answer.
func (r *federatedRig) call(t *testing.T, p *person, method, path string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.srv.base+path, rd)
	req.Header.Set("Authorization", "Token "+p.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := browser().Do(req) // no redirects followed
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(data, &out)
	if out == nil && len(data) > 0 && data[0] == '[' {
		var list []any
		json.Unmarshal(data, &list)
		out = map[string]any{"list": list}
	}
	return resp.StatusCode, out, resp.Header
}

// tasks lists the rig's project's tasks as p sees them: task ID → image link.
func (r *federatedRig) tasks(t *testing.T, p *person) (map[int64]string, float64) {
	t.Helper()
	return r.projectTasks(t, p, r.proj)
}

// projectTasks lists a project's tasks as p sees them.
func (r *federatedRig) projectTasks(t *testing.T, p *person, project int64) (map[int64]string, float64) {
	t.Helper()
	status, body, _ := r.call(t, p, "GET", fmt.Sprintf("/api/tasks?project=%d&page_size=100", project), nil)
	if status != 200 {
		t.Fatalf("%s's task list = %d %v", p.name, status, body)
	}
	out := map[int64]string{}
	for _, v := range body["tasks"].([]any) {
		task := v.(map[string]any)
		data := task["data"].(map[string]any)
		link, _ := data[r.dataKey].(string)
		out[int64(task["id"].(float64))] = link
	}
	return out, body["total"].(float64)
}

// waitJob polls a storage's sync job until it ends.
func (r *federatedRig) waitJob(t *testing.T, p *person, storageID any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, st, _ := r.call(t, p, "GET", fmt.Sprintf("/api/storages/s3/%v", storageID), nil)
		if job, _ := st["job"].(map[string]any); job != nil {
			switch job["status"] {
			case "completed", "failed", "canceled":
				return job
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync of storage %v did not end: %v", storageID, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fetch GETs a URL without credentials (a presigned URL) or a Glossa
// path with p's token, following no redirect.
func fetch(t *testing.T, rawURL string, token string) (int, []byte, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	resp, err := browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Location")
}

// TestFederatedStorage drives saml_federated storages end to end: people
// signed in through a real IdP get credentials from the STS emulator for
// the role their IdP asserts, and SeaweedFS's policies for those roles
// decide which tasks each one sees, which media each one can fetch and
// where each one's exports land.
func TestFederatedStorage(t *testing.T) {
	t.Parallel()
	r := startFederatedRig(t, federatedSession)
	owner := &person{name: "owner", token: r.srv.token}

	// The source takes each person's asserted role for the provider (no
	// role_arn); the target names TeamA's role and writes under exports/teamA/.
	_, src, _ := r.call(t, owner, "POST", "/api/storages/s3", r.storage(map[string]any{
		"title": "Scans", "bucket": scans, "use_blob_urls": true, "recursive_scan": true, "presign": true, "presign_ttl": 1,
		"auth_mode": "saml_federated", "principal_arn": providerARN}))
	if src["id"] == nil {
		t.Fatalf("source storage: %v", src)
	}
	srcID := src["id"]
	_, dst, _ := r.call(t, owner, "POST", "/api/storages/export/s3", r.storage(map[string]any{
		"title": "Exports", "bucket": exports, "prefix": "teamA/",
		"auth_mode": "saml_federated", "role_arn": roleARN("TeamA"), "principal_arn": providerARN}))
	dstID := dst["id"]

	// The Owner signed in with a password: no SAML response, no
	// credentials; a sync on their behalf is refused with where to go.
	status, body, _ := r.call(t, owner, "POST", fmt.Sprintf("/api/storages/s3/%v/sync", srcID), nil)
	if e := apiError(body); status != 401 || e["code"] != "reauthenticate" || !strings.HasSuffix(fmt.Sprint(e["location"]), "/saml/acme/login") {
		t.Fatalf("sync without credentials = %d %v", status, body)
	}

	// Carol, the curator, signs in (her exchange happens in the ACS) and
	// syncs: every object of the bucket becomes a task.
	carol := &person{name: "carol"}
	r.signIn(t, carol, "/projects")
	if status, body, _ := r.call(t, carol, "POST", fmt.Sprintf("/api/storages/s3/%v/sync", srcID), nil); status != 200 {
		t.Fatalf("carol's sync = %d %v", status, body)
	}
	job := r.waitJob(t, carol, srcID)
	if job["status"] != "completed" || job["created"] != float64(3) || job["listed"] != float64(3) {
		t.Fatalf("sync job: %v", job)
	}
	// Again: nothing new.
	r.call(t, carol, "POST", fmt.Sprintf("/api/storages/s3/%v/sync", srcID), nil)
	if job := r.waitJob(t, carol, srcID); job["created"] != float64(0) || job["skipped"] != float64(3) {
		t.Fatalf("re-sync job: %v", job)
	}

	// Alice (TeamA) and Bob (TeamB, role pair in the other order).
	alice, bob := &person{name: "alice"}, &person{name: "bob"}
	r.signIn(t, alice, "/projects")
	r.signIn(t, bob, "/projects")
	aliceTasks, aliceTotal := r.tasks(t, alice)
	bobTasks, bobTotal := r.tasks(t, bob)
	if len(aliceTasks) != 2 || aliceTotal != 2 || len(bobTasks) != 1 || bobTotal != 1 {
		t.Fatalf("alice sees %d (total %v), bob sees %d (total %v)", len(aliceTasks), aliceTotal, len(bobTasks), bobTotal)
	}
	var aliceTask, bobTask int64
	for id := range aliceTasks {
		aliceTask = id
	}
	for id := range bobTasks {
		bobTask = id
	}
	// By ID, the other's task does not exist.
	if status, _, _ := r.call(t, alice, "GET", fmt.Sprintf("/api/tasks/%d", bobTask), nil); status != 404 {
		t.Fatalf("alice opening bob's task = %d", status)
	}
	if status, _, _ := r.call(t, bob, "GET", fmt.Sprintf("/api/tasks/%d", aliceTask), nil); status != 404 {
		t.Fatalf("bob opening alice's task = %d", status)
	}

	// Media: each one's link is presigned with their own credentials and
	// serves their image; the other's link is not theirs to use.
	status, _, presigned := fetch(t, r.srv.base+aliceTasks[aliceTask], alice.token)
	if status != http.StatusSeeOther || !strings.HasPrefix(presigned, r.s3.Endpoint+"/scans/teamA/") {
		t.Fatalf("alice's media = %d → %q", status, presigned)
	}
	q, _ := url.Parse(presigned)
	if exp, err := strconv.Atoi(q.Query().Get("X-Amz-Expires")); err != nil || exp < 1 || exp > 60 {
		t.Fatalf("presigned URL lives %q s; presign_ttl is one minute", q.Query().Get("X-Amz-Expires"))
	}
	if q.Query().Get("X-Amz-Security-Token") == "" {
		t.Fatal("the presigned URL is not signed with temporary credentials")
	}
	if status, img, _ := fetch(t, presigned, ""); status != 200 || !bytes.Equal(img, r.imgA) {
		t.Fatalf("alice's presigned URL = %d (%d bytes)", status, len(img))
	}
	if status, _, _ := fetch(t, r.srv.base+aliceTasks[aliceTask], bob.token); status != 404 {
		t.Fatalf("bob fetching alice's media = %d", status)
	}

	// Dave's IdP asserts no AWS role: he is signed in, sees none of the
	// storage's tasks, and the storage says why.
	dave := &person{name: "dave"}
	r.signIn(t, dave, "/projects")
	if daveTasks, total := r.tasks(t, dave); len(daveTasks) != 0 || total != 0 {
		t.Fatalf("dave sees %d tasks (total %v)", len(daveTasks), total)
	}

	// Exports: alice's annotation lands under exports/teamA/; bob's is
	// refused by the bucket (TeamB cannot write there), kept, retried and
	// reported.
	choice := []map[string]any{{"from_name": "label", "to_name": "image", "type": "choices", "value": map[string]any{"choices": []string{"ok"}}}}
	status, ann, _ := r.call(t, alice, "POST", fmt.Sprintf("/api/tasks/%d/annotations", aliceTask), map[string]any{"result": choice})
	if status != 201 {
		t.Fatalf("alice's annotation = %d %v", status, ann)
	}
	aliceKey := fmt.Sprintf("teamA/%v", ann["id"])
	waitFor(t, 20*time.Second, "alice's export", func() bool {
		b, err := r.s3.Get(t, exports, aliceKey)
		return err == nil && bytes.Contains(b, []byte(`"ok"`))
	})
	status, ann, _ = r.call(t, bob, "POST", fmt.Sprintf("/api/tasks/%d/annotations", bobTask), map[string]any{"result": choice})
	if status != 201 {
		t.Fatalf("bob's annotation = %d %v", status, ann)
	}
	bobKey := fmt.Sprintf("teamA/%v", ann["id"])
	var export map[string]any
	waitFor(t, 20*time.Second, "bob's export to be refused and reported", func() bool {
		_, st, _ := r.call(t, owner, "GET", fmt.Sprintf("/api/storages/export/s3/%v", dstID), nil)
		export, _ = st["export"].(map[string]any)
		return export != nil && export["failed"] == float64(1)
	})
	if export["written"] != float64(1) || export["pending"] != float64(1) {
		t.Fatalf("target storage's outbox: %v", export)
	}
	if _, err := r.s3.Get(t, exports, bobKey); err == nil {
		t.Fatal("bob's annotation was written where his role may not write")
	}

	// The audit log has the exchanges and the federated accesses, allowed
	// and denied, with the person and the role.
	_, audit, _ := r.call(t, owner, "GET", "/api/audit?limit=200", nil)
	var exchanges, allowed, denied int
	for _, e := range audit["results"].([]any) {
		ev := e.(map[string]any)
		switch {
		case ev["action"] == "federation.exchange":
			exchanges++
		case strings.HasPrefix(fmt.Sprint(ev["action"]), "federation.") && ev["outcome"] == "success":
			allowed++
		case strings.HasPrefix(fmt.Sprint(ev["action"]), "federation.") && ev["outcome"] == "failure":
			denied++
		}
	}
	if exchanges < 4 || allowed == 0 || denied == 0 {
		t.Fatalf("audit: %d exchanges, %d allowed and %d denied accesses", exchanges, allowed, denied)
	}

	// Expiry: once alice's credentials expire, her presigned URL stops
	// working, the API says to sign in again and where, and a browser is
	// sent through the IdP and comes back to the page it was on.
	waitFor(t, federatedSession+30*time.Second, "alice's presigned URL to expire", func() bool {
		status, _, _ := fetch(t, presigned, "")
		return status == http.StatusForbidden
	})
	waitFor(t, 40*time.Second, "alice's credentials to expire in Glossa", func() bool {
		status, _, _ := r.call(t, alice, "GET", fmt.Sprintf("/api/tasks?project=%d", r.proj), nil)
		return status == 401
	})
	status, body, _ = r.call(t, alice, "GET", fmt.Sprintf("/api/tasks/%d", aliceTask), nil)
	if e := apiError(body); status != 401 || e["code"] != "reauthenticate" || !strings.Contains(fmt.Sprint(e["location"]), "/saml/acme/login") {
		t.Fatalf("alice's API call with expired credentials = %d %v", status, body)
	}
	page := fmt.Sprintf("/projects/%d/tasks/%d", r.proj, aliceTask)
	status, _, loc := fetchWith(t, alice.browser, r.srv.base+page)
	if status != http.StatusSeeOther || loc != "/saml/acme/login?next="+url.QueryEscape(page) {
		t.Fatalf("alice's task page with expired credentials = %d → %q", status, loc)
	}
	resp := r.signIn(t, alice, page) // the IdP session is still there: no password form
	if resp.Header.Get("Location") != page {
		t.Fatalf("after signing in again alice lands on %q, want %q", resp.Header.Get("Location"), page)
	}
	if status, body, _ := fetchWith(t, alice.browser, r.srv.base+page); status != 200 || !bytes.Contains(body, []byte(`class="task-media"`)) {
		t.Fatalf("alice's task page after signing in again = %d", status)
	}
}

// apiError is the "error" object of an API error answer.
func apiError(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	return e
}

// fetchWith GETs a URL with a browser client, following no redirect.
func fetchWith(t *testing.T, c *http.Client, rawURL string) (int, []byte, string) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Location")
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sync queues a sync of a source storage as p and waits for its job.
func (r *federatedRig) sync(t *testing.T, p *person, storageID any) map[string]any {
	t.Helper()
	if status, body, _ := r.call(t, p, "POST", fmt.Sprintf("/api/storages/s3/%v/sync", storageID), nil); status != 200 {
		t.Fatalf("%s's sync of storage %v = %d %v", p.name, storageID, status, body)
	}
	return r.waitJob(t, p, storageID)
}

// create creates a storage (path is s3 or export/s3) and returns its ID.
func (r *federatedRig) create(t *testing.T, p *person, path string, fields map[string]any) any {
	t.Helper()
	status, body, _ := r.call(t, p, "POST", "/api/storages/"+path, r.storage(fields))
	if status != 201 {
		t.Fatalf("create storage %v = %d %v", fields, status, body)
	}
	return body["id"]
}

// TestStorageModes: broker mode gives the same per-team separation as
// saml_federated, through Glossa's own principal and the role each
// person's IdP groups map to; the shared modes (static keys, assume_role)
// give everyone the storage's view; and neither STS nor S3 being down
// loses an annotation or a sign-in.
func TestStorageModes(t *testing.T) {
	t.Parallel()
	r := startFederatedRig(t, 0)
	owner := &person{name: "owner", token: r.srv.token}
	alice, bob, carol := &person{name: "alice"}, &person{name: "bob"}, &person{name: "carol"}

	// Broker: storages exist before the sign-ins, which obtain each
	// person's session for them. AssumeRole is SeaweedFS's own STS (the
	// emulator only does AssumeRoleWithSAML); on AWS both are one endpoint.
	brokerProject := r.project(t, "Broker")
	brokerRoles := [][]string{{roleARN("TeamA"), "team-a"}, {roleARN("TeamB"), "team-b"}, {roleARN("Curator"), "curators"}}
	broker := r.create(t, owner, "s3", map[string]any{"project": brokerProject, "bucket": scans, "use_blob_urls": true,
		"recursive_scan": true, "auth_mode": "broker", "broker_roles": brokerRoles, "sts_endpoint": r.s3.Endpoint})
	brokerTarget := r.create(t, owner, "export/s3", map[string]any{"project": brokerProject, "bucket": exports,
		"prefix": "teamB/", "auth_mode": "broker", "broker_roles": brokerRoles, "sts_endpoint": r.s3.Endpoint})
	for _, p := range []*person{alice, bob, carol} {
		r.signIn(t, p, "/projects")
	}
	if job := r.sync(t, carol, broker); job["status"] != "completed" || job["created"] != float64(3) {
		t.Fatalf("broker sync: %v", job)
	}
	aliceTasks, _ := r.projectTasks(t, alice, brokerProject)
	bobTasks, _ := r.projectTasks(t, bob, brokerProject)
	if len(aliceTasks) != 2 || len(bobTasks) != 1 {
		t.Fatalf("broker mode: alice sees %d tasks, bob %d", len(aliceTasks), len(bobTasks))
	}
	for id, link := range bobTasks {
		status, _, presigned := fetch(t, r.srv.base+link, bob.token)
		if status != http.StatusSeeOther {
			t.Fatalf("bob's media = %d", status)
		}
		if status, img, _ := fetch(t, presigned, ""); status != 200 || !bytes.Equal(img, r.imgB) {
			t.Fatalf("bob's presigned URL = %d", status)
		}
		if status, _, _ := fetch(t, r.srv.base+link, alice.token); status != 404 {
			t.Fatalf("alice fetching bob's media in broker mode = %d", status)
		}
		// Bob may write under teamB/: his annotation lands there.
		status, ann, _ := r.call(t, bob, "POST", fmt.Sprintf("/api/tasks/%d/annotations", id), map[string]any{"result": []any{}})
		if status != 201 {
			t.Fatalf("bob's annotation = %d", status)
		}
		waitFor(t, 20*time.Second, "bob's broker-mode export", func() bool {
			_, err := r.s3.Get(t, exports, fmt.Sprintf("teamB/%v", ann["id"]))
			return err == nil
		})
	}
	_, st, _ := r.call(t, owner, "GET", fmt.Sprintf("/api/storages/export/s3/%v", brokerTarget), nil)
	if export := st["export"].(map[string]any); export["written"] != float64(1) {
		t.Fatalf("broker target outbox: %v", export)
	}

	// validate makes real calls and says what is wrong.
	static := map[string]any{"auth_mode": "static", "aws_access_key_id": r.s3.AdminKey, "aws_secret_access_key": r.s3.AdminSecret}
	for _, tc := range []struct {
		fields map[string]any
		status int
		says   string
	}{
		{map[string]any{"bucket": "no-such-bucket"}, 404, `The bucket "no-such-bucket" does not exist`},
		{map[string]any{"bucket": scans, "aws_secret_access_key": "wrong-secret-wrong-secret"}, 403, "secret"},
		{map[string]any{"bucket": scans}, 200, "Glossa can reach the bucket"},
	} {
		body := r.storage(map[string]any{"project": brokerProject})
		for k, v := range static {
			body[k] = v
		}
		for k, v := range tc.fields {
			body[k] = v
		}
		status, resp, _ := r.call(t, owner, "POST", "/api/storages/s3/validate", body)
		msg := fmt.Sprint(resp["message"])
		if e := apiError(resp); e != nil {
			msg = fmt.Sprint(e["message"])
		}
		if status != tc.status || !strings.Contains(msg, tc.says) {
			t.Errorf("validate %v = %d %q, want %d saying %q", tc.fields, status, msg, tc.status, tc.says)
		}
	}

	// Shared modes: static keys and Glossa's principal assuming a role;
	// the Owner, who has no IdP session, syncs and sees everything.
	for _, mode := range []map[string]any{
		{"auth_mode": "static", "aws_access_key_id": r.s3.AdminKey, "aws_secret_access_key": r.s3.AdminSecret},
		{"auth_mode": "assume_role", "role_arn": roleARN("Curator"), "external_id": "glossa-test", "sts_endpoint": r.s3.Endpoint},
	} {
		// The blob URL goes in the field of the config's first object tag.
		project := int64(r.srv.api(t, "POST", "/api/projects", map[string]any{"title": mode["auth_mode"], "workspace": r.ws,
			"label_config": `<View><Image name="img" value="$photo"/><Choices name="ok" toName="img"><Choice value="yes"/></Choices></View>`}, 201)["id"].(float64))
		r.dataKey = "photo"
		mode["project"], mode["bucket"], mode["use_blob_urls"], mode["recursive_scan"] = project, scans, true, true
		id := r.create(t, owner, "s3", mode)
		if job := r.sync(t, owner, id); job["status"] != "completed" || job["created"] != float64(3) {
			t.Fatalf("%s sync: %v", mode["auth_mode"], job)
		}
		tasks, total := r.projectTasks(t, alice, project)
		if len(tasks) != 3 || total != 3 {
			t.Fatalf("%s: alice sees %d tasks", mode["auth_mode"], len(tasks))
		}
		for _, link := range tasks {
			if !strings.HasPrefix(link, "/tasks/") {
				t.Fatalf("%s: a task's %q is %q, not a media link", mode["auth_mode"], r.dataKey, link)
			}
			status, _, presigned := fetch(t, r.srv.base+link, alice.token)
			if status != http.StatusSeeOther {
				t.Fatalf("%s media = %d", mode["auth_mode"], status)
			}
			if status, _, _ := fetch(t, presigned, ""); status != 200 {
				t.Fatalf("%s presigned URL = %d", mode["auth_mode"], status)
			}
		}
	}
	r.dataKey = "image"
	// The secret never comes back.
	_, list, _ := r.call(t, owner, "GET", "/api/storages/s3", nil)
	if raw, _ := json.Marshal(list); bytes.Contains(raw, []byte(r.s3.AdminSecret)) {
		t.Fatal("a storage listing shows the static secret")
	}

	// S3 down: alice's annotation is saved, its export fails, is kept and
	// reported, and lands once S3 is back.
	fedTarget := r.create(t, owner, "export/s3", map[string]any{"project": brokerProject, "bucket": exports,
		"prefix": "teamA/", "auth_mode": "broker", "broker_roles": brokerRoles, "sts_endpoint": r.s3.Endpoint})
	r.signIn(t, alice, "/projects") // a session for the new storage
	// She lists her tasks (the visibility decisions are made and kept
	// with her new credentials), then S3 goes away as she labels.
	aliceTasks, _ = r.projectTasks(t, alice, brokerProject)
	var aliceTask int64
	for id := range aliceTasks {
		aliceTask = id
	}
	r.s3.Stop()
	status, ann, _ := r.call(t, alice, "POST", fmt.Sprintf("/api/tasks/%d/annotations", aliceTask), map[string]any{"result": []any{}})
	if status != 201 {
		t.Fatalf("annotation while S3 is down = %d %v", status, ann)
	}
	waitFor(t, 60*time.Second, "the failed export to be reported", func() bool {
		_, st, _ := r.call(t, owner, "GET", fmt.Sprintf("/api/storages/export/s3/%v", fedTarget), nil)
		export, _ := st["export"].(map[string]any)
		return export != nil && export["failed"] == float64(1) && export["pending"] == float64(1)
	})
	r.s3.Restart(t)
	waitFor(t, 90*time.Second, "the export after S3 came back", func() bool {
		_, err := r.s3.Get(t, exports, fmt.Sprintf("teamA/%v", ann["id"]))
		return err == nil
	})

	// STS down: carol signs in all the same (a new browser: a new IdP
	// session, a new exchange, STS unreachable), and the storage tells her
	// why her data is unavailable.
	r.sts.Close()
	fed := r.create(t, owner, "s3", map[string]any{"project": brokerProject, "bucket": scans, "use_blob_urls": true,
		"auth_mode": "saml_federated", "principal_arn": providerARN})
	carolAgain := &person{name: "carol"}
	r.signIn(t, carolAgain, "/projects")
	_, st, _ = r.call(t, carolAgain, "GET", fmt.Sprintf("/api/storages/s3/%v", fed), nil)
	access, _ := st["your_access"].(map[string]any)
	if access == nil || access["ok"] != false || !strings.Contains(fmt.Sprint(access["message"]), "STS") {
		t.Fatalf("carol's access to a storage whose STS is down: %v", st)
	}
}

// TestFederatedTaskInBrowser: a person signed in through the IdP opens a
// task in headless Chromium, and its image, presigned with their own
// federated credentials, comes from the bucket.
func TestFederatedTaskInBrowser(t *testing.T) {
	t.Parallel()
	r := startFederatedRig(t, 0)
	owner := &person{name: "owner", token: r.srv.token}
	// Boxes on the bucket's images.
	r.srv.api(t, "PATCH", fmt.Sprintf("/api/projects/%d", r.proj), map[string]any{"label_config": `<View><Image name="image" value="$image"/>` +
		`<RectangleLabels name="label" toName="image"><Label value="Cell"/></RectangleLabels></View>`}, 200)
	src := r.create(t, owner, "s3", map[string]any{"bucket": scans, "use_blob_urls": true, "recursive_scan": true,
		"auth_mode": "saml_federated", "principal_arn": providerARN})
	carol := &person{name: "carol"}
	r.signIn(t, carol, "/projects")
	r.sync(t, carol, src)
	alice := &person{name: "alice"}
	r.signIn(t, alice, "/projects")
	tasks, _ := r.tasks(t, alice)
	var task int64
	for id := range tasks {
		task = id
	}

	ctx := browsertest.New(t)
	page := fmt.Sprintf("%s/projects/%d/tasks/%d", r.srv.base, r.proj, task)
	browsertest.Do(t, ctx,
		chromedp.Navigate(r.srv.base+"/saml/acme/login?next="+url.QueryEscape(fmt.Sprintf("/projects/%d/tasks/%d", r.proj, task))),
		chromedp.WaitVisible(chromedp.CSS(`input[type=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[type=password]`), "alice-password"),
		chromedp.Submit(chromedp.CSS(`input[type=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`img.task-media`)),
	)
	var loaded string
	waitFor(t, 20*time.Second, "the task image to load", func() bool {
		loaded = browsertest.Run(t, ctx, chromedp.Evaluate[string](
			`location.href + " " + [...document.querySelectorAll("img.task-media")].map(i => i.complete + ":" + i.naturalWidth + "x" + i.naturalHeight).join(",")`))
		return strings.HasSuffix(loaded, " true:8x6")
	})
	if !strings.HasPrefix(loaded, page+" ") {
		t.Fatalf("the browser is at %q, want the task page", loaded)
	}

	// On the labeling page she draws a box on the bucket's image and
	// submits it.
	browsertest.Do(t, ctx,
		chromedp.Navigate(fmt.Sprintf("%s/projects/%d/label/%d", r.srv.base, r.proj, task)),
		chromedp.WaitVisible(chromedp.CSS(`#label-app[data-ready="true"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector(".lbl-img").naturalWidth === 8`, chromedp.WithPollingTimeout(15*time.Second)),
	)
	type rect struct{ Left, Top, Width, Height float64 }
	b := browsertest.Run(t, ctx, chromedp.Evaluate[rect](`(() => { const r = document.querySelector(".lbl-svg").getBoundingClientRect(); return {Left: r.left, Top: r.top, Width: r.width, Height: r.height}; })()`))
	at := func(px, py float64) (float64, float64) { return b.Left + b.Width*px/100, b.Top + b.Height*py/100 }
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`.lbl-label[data-value="Cell"]`)))
	browsertest.Do(t, ctx, mouseDrag(at(10, 10))(at(60, 50))...)
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("notice")))
	status, anns, _ := r.call(t, alice, "GET", fmt.Sprintf("/api/tasks/%d/annotations", task), nil)
	list, _ := anns["list"].([]any)
	if status != 200 || len(list) != 1 {
		t.Fatalf("alice's annotations = %d %v", status, anns)
	}
	result, _ := list[0].(map[string]any)["result"].([]any)
	if len(result) != 1 {
		t.Fatalf("result = %v", list[0])
	}
	item := result[0].(map[string]any)
	v := item["value"].(map[string]any)
	if item["type"] != "rectanglelabels" || item["original_width"] != 8.0 || fmt.Sprint(v["rectanglelabels"]) != "[Cell]" {
		t.Fatalf("box = %v", item)
	}
	for k, want := range map[string]float64{"x": 10, "y": 10, "width": 50, "height": 40} {
		if got, _ := v[k].(float64); got < want-1.5 || got > want+1.5 {
			t.Errorf("value.%s = %v, want %v", k, v[k], want)
		}
	}
}

// mouseDrag presses the left button at (x0, y0), moves to (x1, y1) in
// steps and releases it there.
func mouseDrag(x0, y0 float64) func(x1, y1 float64) []chromedp.Action[chromedp.Void] {
	return func(x1, y1 float64) []chromedp.Action[chromedp.Void] {
		held := func(p *input.DispatchMouseEventParams) {
			p.Button, p.Buttons, p.ClickCount = input.MouseButtonLeft, 1, 1
		}
		steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MouseMoved, x0, y0), chromedp.MouseEvent(chromedp.MousePressed, x0, y0, held)}
		for i := 1; i <= 8; i++ {
			f := float64(i) / 8
			steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, held))
		}
		return append(steps, chromedp.MouseEvent(chromedp.MouseReleased, x1, y1, held))
	}
}
