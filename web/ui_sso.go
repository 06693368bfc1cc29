package web

// The single sign-on settings page of Owners and Administrators: what to
// paste into the IdP, a form for the organization's connection, and the
// rotation of Glossa's own SP keys. The form is read into the API's
// ssoRequest and saved by saveSSOSettings, the API's own path, so the page
// and GET/POST /api/saml/settings accept, refuse and audit exactly the
// same settings; likewise the key forms rotate and retire through the
// API's rotateSPKeys and retireSPKeys.

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// maxSSOFormBytes bounds the settings form when this handler reads it
// itself: pasted metadata (1 MiB, more once URL-encoded), an uploaded file
// (1 MiB) and the mappings. A browser's form was already read by the CSRF
// check (see parseSSOForm).
const maxSSOFormBytes = 4 << 20

// ssoPreset is one choice of the IdP preset select.
type ssoPreset struct {
	Value, Name, Explain string
}

// ssoPresets explains idpProviders (api_sso.go) in one line each: the
// attribute names the saml package's preset reads for that IdP.
var ssoPresets = []ssoPreset{
	{"adfs", "Active Directory Federation Services", "E-Mail Address, Given Name and Surname claims; groups in the Group claim (or Role)."},
	{"azure", "Microsoft Entra ID", "its default emailaddress, givenname and surname claims; groups in the groups claim, set to send names rather than object IDs."},
	{"okta", "Okta", "attribute statements email, firstName and lastName, and a group attribute statement named groups."},
	{"onelogin", "OneLogin", "parameters User.email, User.FirstName, User.LastName and memberOf."},
	{"google", "Google Workspace", "attributes mapped as email, firstName and lastName, and Group membership as groups."},
	{"keycloak", "Keycloak", "the built-in X500 email, givenName and surname mappers, and a group list mapper named member."},
	{"custom", "Any other SAML 2.0 IdP", "attributes named Email, FirstName, LastName and Groups (Label Studio's names), or the names set below."},
}

// ssoNotices are this page's success messages, asked for by key after a
// redirect; like the layout's notices, only these fixed sentences appear.
var ssoNotices = map[string]string{
	"sso-saved":        "Saved. The settings apply from the next sign-in.",
	"sso-disconnected": "Disconnected. Single sign-on is off and members sign in with their passwords again.",
	"sso-keys-rotated": "Rotation started. Download the new SP metadata and upload it to your IdP, then come back and finish the rotation.",
	"sso-keys-retired": "The old keys are retired. The SP metadata no longer publishes them, and Glossa no longer decrypts with them.",
}

// ssoForm is the settings as the form shows them: text as typed, so that a
// refused form comes back as the person left it.
type ssoForm struct {
	MetadataXML string
	// MetadataShown is the digest of the metadata the page showed, sent
	// back in a hidden field: the metadata counts as changed only if the
	// text differs from what was shown, so that a page opened before a
	// background refresh of the metadata does not put the old copy back.
	MetadataShown string
	// MetadataURL is where the metadata is fetched from, if it is.
	MetadataURL      string
	IdPProvider      string
	Domains          string
	MappingEmail     string
	MappingFirstName string
	MappingLastName  string
	MappingGroups    string
	RolesGroups      string
	WorkspacesGroups string
	ProjectsGroups   string
	DefaultRole      string
	ClockSkew        string
	// MetadataSigningCert is the PEM certificate that must sign the
	// metadata; empty, none is pinned.
	MetadataSigningCert string

	ManualRoleManagement  bool
	EnforceSSO            bool
	AllowIdPInitiated     bool
	SignAuthnRequests     bool
	RequireSignedResponse bool
}

type ssoPageData struct {
	SP         spEndpoints
	Configured bool
	// SignInReady says the IdP metadata is saved: a test sign-in can
	// start. (The SP metadata URL answers once Configured.)
	SignInReady bool
	TestURL     string
	// MetadataURL, FetchedAt and FetchError describe metadata that the
	// server fetches from the IdP (set through the API).
	MetadataURL string
	FetchedAt   *time.Time
	FetchError  string
	// Pin describes the saved metadata signing certificate, nil when none
	// is pinned.
	Pin      *ssoPin
	Presets  []ssoPreset
	Form     ssoForm
	Problems []string

	// Keys are Glossa's live SP keys, shown once the connection is saved
	// (the SP metadata exists from then on). RetiringIDs are the old keys
	// of a rotation not yet finished, which the Finish form names.
	Keys        []spKeyRow
	RetiringIDs []int64
	// KeysProblem says why the SP metadata could not be read to see which
	// certificates it publishes.
	KeysProblem string
}

// ssoPin is the pinned metadata signing certificate as the page shows it.
// Subject and Fingerprint are empty when the saved value is not a
// certificate (saves refuse one now; a connection saved before may hold
// one).
type ssoPin struct {
	Subject, Fingerprint, NotAfter string
	// Status says whether the metadata in use was verified against it.
	Status string
}

// spKeyRow is an SP key as the page lists it.
type spKeyRow struct {
	spKeyView
	// Published says that the SP metadata served now carries its
	// certificate.
	Published bool
}

// ssoFormFrom shows a saved (or default) connection in the form.
func ssoFormFrom(c *glossa.SAMLConnection) ssoForm {
	f := ssoForm{
		MetadataXML: c.MetadataXML, MetadataShown: metadataDigest(c.MetadataXML), MetadataSigningCert: c.MetadataSigningCert,
		MetadataURL: c.MetadataURL, IdPProvider: c.IdPProvider, Domains: strings.Join(c.Domains, ", "),
		MappingEmail: c.MappingEmail, MappingFirstName: c.MappingFirstName, MappingLastName: c.MappingLastName, MappingGroups: c.MappingGroups,
		DefaultRole: string(c.DefaultRole), ClockSkew: strconv.FormatInt(int64(c.ClockSkew/time.Second), 10),
		ManualRoleManagement: c.ManualRoleManagement, EnforceSSO: c.EnforceSSO, AllowIdPInitiated: c.AllowIdPInitiated,
		SignAuthnRequests: c.SignAuthnRequests, RequireSignedResponse: c.RequireSignedResponse,
	}
	var b strings.Builder
	for _, g := range c.RolesGroups {
		b.WriteString(g.Name + ", " + g.Group + "\n")
	}
	f.RolesGroups, b = b.String(), strings.Builder{}
	for _, g := range c.WorkspacesGroups {
		b.WriteString(quoteMappingField(g.Name) + ", " + g.Group + "\n")
	}
	f.WorkspacesGroups, b = b.String(), strings.Builder{}
	for _, g := range c.ProjectsGroups {
		b.WriteString(strconv.FormatInt(g.ProjectID, 10) + ", " + g.Group + ", " + string(g.Role) + "\n")
	}
	f.ProjectsGroups = b.String()
	return f
}

// currentSSO returns the organization's connection, or the defaults and
// false when it has none.
func (s *Server) currentSSO(r *http.Request, p *glossa.Principal) (*glossa.SAMLConnection, bool, error) {
	c, err := s.SSO.FindSAMLConnection(r.Context(), p.OrgID)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return defaultConnection(p.OrgID), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

func (s *Server) handleUISSOGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	return s.renderSSO(w, r, p, http.StatusOK, nil, nil)
}

// renderSSO shows the settings page: the saved settings in the form, or
// form as typed with the problems that kept it from being saved.
func (s *Server) renderSSO(w http.ResponseWriter, r *http.Request, p *glossa.Principal, status int, form *ssoForm, problems []string) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	c, configured, err := s.currentSSO(r, p)
	if err != nil {
		return err
	}
	if form == nil {
		f := ssoFormFrom(c)
		form = &f
	}
	data := ssoPageData{
		SP: s.spEndpointsFor(p.OrgSlug), Configured: configured, SignInReady: c.MetadataXML != "",
		TestURL:     "/saml/" + p.OrgSlug + "/test",
		MetadataURL: c.MetadataURL, FetchedAt: c.FetchedAt, FetchError: c.FetchError, Pin: s.ssoPinFor(c),
		Presets: ssoPresets, Form: *form, Problems: problems,
	}
	if configured {
		if data.Keys, data.KeysProblem, err = s.spKeyRows(r, p, c); err != nil {
			return err
		}
		for _, k := range data.Keys {
			if !k.Current {
				data.RetiringIDs = append(data.RetiringIDs, k.ID)
			}
		}
	}
	pd := s.newPage(r, p, "Single sign-on")
	if n, ok := ssoNotices[r.URL.Query().Get("notice")]; ok && len(problems) == 0 {
		pd.Notice = n
	}
	if len(problems) > 0 {
		pd.Notice = ""
		pd.Error = "Nothing was saved. Fix the problems below and save again."
	}
	pd.Data = data
	s.render(w, r, status, "sso", pd)
	return nil
}

// handleUISSOSave saves the settings form through saveSSOSettings.
func (s *Server) handleUISSOSave(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	if err := s.parseSSOForm(w, r); err != nil {
		return err
	}
	if r.MultipartForm != nil {
		// Uploads larger than the parser's memory went to temporary files,
		// and net/http removes those only for the request it created, not
		// for the copies that middleware makes with WithContext.
		defer r.MultipartForm.RemoveAll()
	}
	old, _, err := s.currentSSO(r, p)
	if err != nil {
		return err
	}
	form, req := readSSOForm(r, old)
	if _, err := s.saveSSOSettings(r, p, req); err != nil {
		code := glossa.ErrorCode(err)
		if code == glossa.EINTERNAL || code == glossa.EFORBIDDEN {
			return err
		}
		var list ssoProblems
		if !errors.As(err, &list) {
			list = ssoProblems{glossa.ErrorMessage(err)} // a domain another organization routes, say
		}
		return s.renderSSO(w, r, p, errorStatus(code), &form, orderSSOProblems(list))
	}
	http.Redirect(w, r, "/organization/sso?notice=sso-saved", http.StatusSeeOther)
	return nil
}

// ssoPinFor describes the connection's pinned metadata signing
// certificate, if any.
//
// Whether the metadata in use was verified against the pin needs no record
// of its own: with a pin set, every save checks the metadata against it
// (saveSSOSettings) and a fetched copy that fails the check is not used
// (the last good copy stays, with the fetch error), so the copy in use
// has passed, provided this server checks metadata at all.
func (s *Server) ssoPinFor(c *glossa.SAMLConnection) *ssoPin {
	if c.MetadataSigningCert == "" {
		return nil
	}
	pin := &ssoPin{}
	if cert := pemCertificate(c.MetadataSigningCert); cert != nil {
		pin.Subject, pin.Fingerprint = cert.Subject.String(), fingerprint(cert.Raw)
		pin.NotAfter = cert.NotAfter.UTC().Format(time.DateOnly)
	}
	switch {
	case s.Metadata == nil:
		pin.Status = "This server does not check IdP metadata, so the pin is not enforced."
	case c.MetadataXML == "":
		pin.Status = "Nothing verified yet: there is no IdP metadata. Metadata saved from now on must be signed by this certificate."
	case c.MetadataURL == "" || c.FetchedAt == nil:
		pin.Status = "Verified: the metadata in use is signed by this certificate (checked when it was saved)."
	case c.FetchError != "":
		pin.Status = "The last fetch, " + formatTime(*c.FetchedAt) + ", was not used: " + c.FetchError + " The copy in use is signed by this certificate."
	default:
		pin.Status = "Verified: the metadata of the last fetch, " + formatTime(*c.FetchedAt) + ", is signed by this certificate."
	}
	return pin
}

// spKeyRows lists the organization's live SP keys and, for each, whether
// the SP metadata served now publishes its certificate. Reading the
// metadata makes the keys on first use, as the metadata URL does. A
// metadata that cannot be built is reported on the page rather than
// failing it: this page is where the settings that broke it are fixed.
func (s *Server) spKeyRows(r *http.Request, p *glossa.Principal, c *glossa.SAMLConnection) ([]spKeyRow, string, error) {
	published := map[string]bool{}
	problem := ""
	if s.SAML != nil {
		org, err := s.Orgs.FindOrganizationByID(r.Context(), p.OrgID)
		if err != nil {
			return nil, "", err
		}
		md, err := s.SAML.SPMetadata(r.Context(), org, c)
		if err == nil {
			published, err = metadataCertificates(md)
		}
		if err != nil {
			s.Logger.WarnContext(r.Context(), "reading the SP metadata for the settings page", "err", err)
			problem = glossa.ErrorMessage(err)
		}
	}
	views, err := s.spKeyViews(r, p.OrgID)
	if err != nil {
		return nil, "", err
	}
	rows := make([]spKeyRow, len(views))
	for i, v := range views {
		rows[i] = spKeyRow{spKeyView: v, Published: published[v.Fingerprint]}
	}
	return rows, problem, nil
}

// metadataCertificates returns the SHA-256 fingerprints of the
// certificates in the KeyDescriptors of SP metadata (SAML metadata
// §2.4.1.1).
func metadataCertificates(md []byte) (map[string]bool, error) {
	var doc struct {
		Certs []string `xml:"SPSSODescriptor>KeyDescriptor>KeyInfo>X509Data>X509Certificate"`
	}
	if err := xml.Unmarshal(md, &doc); err != nil {
		return nil, glossa.Wrap(glossa.EINTERNAL, err, "The SP metadata could not be read.")
	}
	out := map[string]bool{}
	for _, text := range doc.Certs {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, glossa.Wrap(glossa.EINTERNAL, err, "The SP metadata could not be read.")
		}
		out[fingerprint(der)] = true
	}
	return out, nil
}

// handleUISPKeyRotate starts a key rotation (the page asks first).
func (s *Server) handleUISPKeyRotate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.rotateSPKeys(r, p); err != nil {
		return err
	}
	http.Redirect(w, r, "/organization/sso?notice=sso-keys-rotated#sp-keys", http.StatusSeeOther)
	return nil
}

// handleUISPKeyRetire finishes a rotation: it retires the old keys that
// the page showed (the form names them), not every old key there is now.
// A rotation started since, in another tab or by another administrator,
// made keys that the IdP may not have yet, and those stay. Keys already
// retired are passed over, so that sending the form twice is harmless.
func (s *Server) handleUISPKeyRetire(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	live, err := s.spKeyViews(r, p.OrgID)
	if err != nil {
		return err
	}
	var ids []int64
	for _, v := range r.PostForm["key"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return glossa.Errorf(glossa.EINVALID, "The form could not be read. Reload the page and try again.")
		}
		if slices.ContainsFunc(live, func(k spKeyView) bool { return k.ID == id }) {
			ids = append(ids, id)
		}
	}
	if err := s.retireSPKeys(r, p, live, ids...); err != nil {
		return err
	}
	http.Redirect(w, r, "/organization/sso?notice=sso-keys-retired#sp-keys", http.StatusSeeOther)
	return nil
}

// handleUISSODisconnect deletes the connection (the page asks first).
func (s *Server) handleUISSODisconnect(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.deleteSSOSettings(r, p); err != nil {
		return err
	}
	http.Redirect(w, r, "/organization/sso?notice=sso-disconnected", http.StatusSeeOther)
	return nil
}

// parseSSOForm reads the settings form, URL-encoded or multipart (the page
// sends multipart, for the metadata file).
//
// For a signed-in browser the CSRF check (auth.CheckCSRF) has already read
// the whole body to find the csrf_token field, multipart included; its
// parsed form is on the request, so this does not read it again. A request
// authenticated otherwise is read here, within maxSSOFormBytes.
func (s *Server) parseSSOForm(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return s.parseForm(w, r)
	}
	if r.MultipartForm != nil {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSSOFormBytes)
	if err := r.ParseMultipartForm(maxSSOFormBytes); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return glossa.Errorf(glossa.ETOOLARGE, "The form is larger than the limit of %d bytes.", maxErr.Limit)
		}
		return glossa.Errorf(glossa.EINVALID, "The form could not be read. Reload the page and try again.")
	}
	return nil
}

// readSSOForm turns the submitted form into the API's request. The form
// is complete (an unchecked box is false, an empty field clears), except
// that metadata the person did not edit or upload is left alone. What
// cannot be read becomes a problem in the request, reported with the
// validation's.
func readSSOForm(r *http.Request, old *glossa.SAMLConnection) (ssoForm, ssoRequest) {
	v := r.PostForm
	on := func(name string) bool { return v.Get(name) != "" }
	form := ssoForm{
		MetadataXML: normalizeNewlines(v.Get("metadata_xml")), MetadataShown: v.Get("metadata_shown"),
		MetadataURL: old.MetadataURL,
		IdPProvider: v.Get("idp_provider"), Domains: v.Get("domain"), MetadataSigningCert: normalizeNewlines(v.Get("metadata_signing_cert")),
		MappingEmail: v.Get("mapping_email"), MappingFirstName: v.Get("mapping_first_name"), MappingLastName: v.Get("mapping_last_name"),
		MappingGroups: v.Get("mapping_groups"), RolesGroups: normalizeNewlines(v.Get("roles_groups")),
		WorkspacesGroups: normalizeNewlines(v.Get("workspaces_groups")), ProjectsGroups: normalizeNewlines(v.Get("projects_groups")),
		DefaultRole: v.Get("default_role"), ClockSkew: strings.TrimSpace(v.Get("clock_skew_seconds")),
		ManualRoleManagement: on("manual_role_management"), EnforceSSO: on("enforce_sso"), AllowIdPInitiated: on("allow_idp_initiated"),
		SignAuthnRequests: on("sign_authn_requests"), RequireSignedResponse: on("require_signed_response"),
	}
	var req ssoRequest
	bad := func(msg string) { req.problems = append(req.problems, msg) }

	// The metadata: a chosen file wins over the text box, whose content
	// the page filled with the saved copy; the text counts only if it was
	// edited (compared with what the page showed, or else with the saved
	// copy).
	shown := form.MetadataShown
	if shown == "" {
		shown = metadataDigest(old.MetadataXML)
	}
	changed := metadataDigest(form.MetadataXML) != shown
	if doc, ok, err := readMetadataFile(r); err != nil {
		bad(glossa.ErrorMessage(err))
	} else if ok {
		form.MetadataXML = doc // shown in the box if something else is refused, so it need not be chosen again
		changed = true
	}
	// A form without the URL field (a page from before it existed) leaves
	// the URL alone.
	if u, ok := v["metadata_url"]; ok && len(u) > 0 {
		form.MetadataURL = strings.TrimSpace(u[0])
	}
	switch urlChanged := form.MetadataURL != old.MetadataURL; {
	case changed && urlChanged && form.MetadataURL != "":
		bad("Give the IdP metadata one way: paste it, upload the file, or give its URL, not several at once.")
	case changed:
		req.MetadataXML = &form.MetadataXML
		if old.MetadataURL != "" {
			// Metadata given here replaces the URL it was fetched from;
			// otherwise the next refresh would overwrite it.
			empty := ""
			req.MetadataURL = &empty
			form.MetadataURL = ""
		}
	case urlChanged:
		// A new URL is fetched now by the save; an emptied one stops the
		// refreshes and keeps the metadata last fetched.
		req.MetadataURL = &form.MetadataURL
	}

	req.MetadataSigningCert = &form.MetadataSigningCert
	req.IdPProvider = &form.IdPProvider
	req.Domain, _ = json.Marshal(form.Domains) // the API's comma-separated string
	req.MappingEmail, req.MappingFirstName = &form.MappingEmail, &form.MappingFirstName
	req.MappingLastName, req.MappingGroups = &form.MappingLastName, &form.MappingGroups
	req.DefaultRole = &form.DefaultRole
	req.ManualRoleManagement, req.EnforceSSO, req.AllowIdPInitiated = &form.ManualRoleManagement, &form.EnforceSSO, &form.AllowIdPInitiated
	req.SignAuthnRequests, req.RequireSignedResponse = &form.SignAuthnRequests, &form.RequireSignedResponse
	if form.ClockSkew != "" {
		if n, err := strconv.ParseInt(form.ClockSkew, 10, 64); err != nil {
			bad("Clock skew must be a whole number of seconds, from 1 to 180 (0 means the default, 180).")
		} else {
			req.ClockSkewSeconds = &n
		}
	} else {
		n := int64(glossa.DefaultClockSkew / time.Second)
		req.ClockSkewSeconds = &n
	}

	// The mappings, one per line. Entries that cannot be read are left
	// out (the problem already refuses the save); lines remembers the
	// line of each entry kept, for the validation's messages.
	lines := map[string][]int{}
	roles := []glossa.GroupMapping{}
	for _, l := range mappingLines(form.RolesGroups) {
		name, group, err := cutMappingField(l.text)
		if err != nil {
			bad(mappingLineName("roles_groups", l.n) + ": write the role, a comma and the group, such as “Annotator, labelers”.")
			continue
		}
		roles = append(roles, glossa.GroupMapping{Name: name, Group: group})
		lines["roles_groups"] = append(lines["roles_groups"], l.n)
	}
	workspaces := []glossa.GroupMapping{}
	for _, l := range mappingLines(form.WorkspacesGroups) {
		name, group, err := cutMappingField(l.text)
		if err != nil {
			bad(mappingLineName("workspaces_groups", l.n) + ": write the workspace, a comma and the group, such as “Main, labelers”; put a workspace whose name has a comma in double quotes.")
			continue
		}
		workspaces = append(workspaces, glossa.GroupMapping{Name: name, Group: group})
		lines["workspaces_groups"] = append(lines["workspaces_groups"], l.n)
	}
	projects := []glossa.ProjectMapping{}
	for _, l := range mappingLines(form.ProjectsGroups) {
		// "id, group, role": the group is everything between the first
		// and the last comma, so that a group such as an LDAP DN may
		// contain commas.
		id, rest, ok1 := strings.Cut(l.text, ",")
		i := strings.LastIndex(rest, ",")
		if !ok1 || i < 0 {
			bad(mappingLineName("projects_groups", l.n) + ": write the project ID, the group and the role (Annotator, Reviewer or Inherit), separated by commas, such as “12, reviewers, Reviewer”.")
			continue
		}
		pid, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err != nil || pid <= 0 {
			bad(mappingLineName("projects_groups", l.n) + ": “" + truncate(strings.TrimSpace(id), 40) + "” is not a project ID; it is the number in the project's address, such as 12 in /projects/12.")
			continue
		}
		projects = append(projects, glossa.ProjectMapping{ProjectID: pid, Group: strings.TrimSpace(rest[:i]), Role: glossa.ProjectRole(strings.TrimSpace(rest[i+1:]))})
		lines["projects_groups"] = append(lines["projects_groups"], l.n)
	}
	req.RolesGroups, req.WorkspacesGroups, req.ProjectsGroups = &roles, &workspaces, &projects
	req.itemName = func(field string, i int) string {
		if i < len(lines[field]) {
			return mappingLineName(field, lines[field][i])
		}
		return field
	}
	return form, req
}

// mappingProblem matches the problems of a mapping line, by mappingLineName.
var mappingProblem = regexp.MustCompile(`^(Role|Workspace|Project) mappings, line ([0-9]+):`)

// orderSSOProblems puts the problems of mapping lines after the others,
// in the order of the form and by line: the lines that could not be read
// were reported before the validation's, and a list that jumps from line
// 4 back to line 1 is harder to work through.
func orderSSOProblems(list []string) []string {
	rank := map[string]int{"Role": 1, "Workspace": 2, "Project": 3}
	key := func(p string) (int, int) {
		m := mappingProblem.FindStringSubmatch(p)
		if m == nil {
			return 0, 0
		}
		n, _ := strconv.Atoi(m[2])
		return rank[m[1]], n
	}
	out := slices.Clone(list)
	slices.SortStableFunc(out, func(a, b string) int {
		fa, la := key(a)
		fb, lb := key(b)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb))
	})
	return out
}

// readMetadataFile reads the uploaded metadata file, if one was chosen,
// up to maxMetadataBytes.
func readMetadataFile(r *http.Request) (string, bool, error) {
	if r.MultipartForm == nil || len(r.MultipartForm.File["metadata_file"]) == 0 {
		return "", false, nil
	}
	fh := r.MultipartForm.File["metadata_file"][0]
	if fh.Size == 0 {
		return "", false, nil // the file input left empty: browsers send a part without content
	}
	tooLarge := glossa.Errorf(glossa.ETOOLARGE, "The metadata file is larger than 1 MiB: choose the IdP's metadata XML file.")
	if fh.Size > maxMetadataBytes {
		return "", false, tooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return "", false, glossa.Wrap(glossa.EINVALID, err, "The metadata file could not be read. Choose it again.")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadataBytes+1))
	if err != nil {
		return "", false, glossa.Wrap(glossa.EINVALID, err, "The metadata file could not be read. Choose it again.")
	}
	if len(b) > maxMetadataBytes {
		return "", false, tooLarge
	}
	return strings.TrimSpace(normalizeNewlines(string(b))), true, nil
}

// mappingLine is one non-blank line of a mapping text box and its number
// (from 1).
type mappingLine struct {
	n    int
	text string
}

func mappingLines(text string) []mappingLine {
	var out []mappingLine
	for i, l := range strings.Split(normalizeNewlines(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, mappingLine{n: i + 1, text: l})
		}
	}
	return out
}

// mappingLineName names a line of a mapping box in messages.
func mappingLineName(field string, n int) string {
	names := map[string]string{"roles_groups": "Role mappings", "workspaces_groups": "Workspace mappings", "projects_groups": "Project mappings"}
	return names[field] + ", line " + strconv.Itoa(n)
}

// cutMappingField splits "name, group" at the first comma, the name
// optionally in double quotes (with "" for a quote) so that it may hold a
// comma; the group is the rest, commas and all (LDAP DNs have them).
func cutMappingField(line string) (name, group string, err error) {
	errLine := errors.New("no name and group")
	if strings.HasPrefix(line, `"`) {
		var b strings.Builder
		i := 1
		for {
			j := strings.IndexByte(line[i:], '"')
			if j < 0 {
				return "", "", errLine
			}
			b.WriteString(line[i : i+j])
			i += j + 1
			if strings.HasPrefix(line[i:], `"`) {
				b.WriteByte('"')
				i++
				continue
			}
			break
		}
		rest, ok := strings.CutPrefix(strings.TrimLeft(line[i:], " \t"), ",")
		if !ok {
			return "", "", errLine
		}
		return b.String(), strings.TrimSpace(rest), nil
	}
	name, group, ok := strings.Cut(line, ",")
	if !ok {
		return "", "", errLine
	}
	return strings.TrimSpace(name), strings.TrimSpace(group), nil
}

// quoteMappingField writes a name for cutMappingField.
func quoteMappingField(name string) string {
	if !strings.ContainsAny(name, `,"`) {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// metadataDigest identifies a metadata text up to line ends and
// surrounding space, for the page's metadata_shown field.
func metadataDigest(doc string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(normalizeNewlines(doc))))
	return hex.EncodeToString(sum[:])
}

// normalizeNewlines turns the CRLF line ends that browsers send for text
// boxes into LF. For XML that changes nothing: XML processors do the same
// before anything else (XML 1.0, section 2.11), signatures included.
func normalizeNewlines(s string) string {
	return strings.ReplaceAll(s, "\r\n", "\n")
}
