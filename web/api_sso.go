package web

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// idpProviders are the attribute-name presets a connection may use.
var idpProviders = []string{"adfs", "azure", "okta", "onelogin", "google", "keycloak", "custom"}

// publicMailDomains may not route to an organization's IdP: everybody has
// an address there (Label Studio's settings page warns the same).
var publicMailDomains = []string{"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
	"icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "mail.com", "yandex.com", "qq.com"}

// maxMetadataBytes bounds pasted IdP metadata.
const maxMetadataBytes = 1 << 20

// spEndpoints are the service provider's values for an organization, what
// its Owner pastes into the IdP. The API (ssoView) and the settings page
// both show these.
type spEndpoints struct {
	EntityID    string `json:"entity_id"`
	ACSURL      string `json:"acs_url"`
	MetadataURL string `json:"metadata_url"`
	SLOURL      string `json:"slo_url"`
	LoginURL    string `json:"login_url"`
}

// spEndpointsFor returns the SP values of the organization with this slug:
// <base>/saml/<slug>/..., the entity ID being the metadata URL.
func (s *Server) spEndpointsFor(slug string) spEndpoints {
	base := strings.TrimSuffix(s.BaseURL.String(), "/") + "/saml/" + slug
	return spEndpoints{
		EntityID:    base + "/metadata",
		ACSURL:      base + "/acs",
		MetadataURL: base + "/metadata",
		SLOURL:      base + "/slo",
		LoginURL:    base + "/login",
	}
}

// ssoView is the settings as the API shows them, with what to paste into
// the IdP.
func (s *Server) ssoView(p *glossa.Principal, c *glossa.SAMLConnection, configured bool) map[string]any {
	var v map[string]any
	b, _ := json.Marshal(c)
	_ = json.Unmarshal(b, &v)
	v["domain"] = strings.Join(c.Domains, ",")
	v["clock_skew_seconds"] = int64(c.ClockSkew / time.Second)
	v["configured"] = configured
	v["sp"] = s.spEndpointsFor(p.OrgSlug)
	return v
}

// defaultConnection is what a new connection starts from: signed
// requests, Label Studio's custom attribute names, new people waiting for
// a role.
func defaultConnection(orgID int64) *glossa.SAMLConnection {
	return &glossa.SAMLConnection{
		OrgID: orgID, IdPProvider: "custom", DefaultRole: glossa.RoleNotActivated,
		SignAuthnRequests: true, ClockSkew: glossa.DefaultClockSkew, ManualRoleManagement: true,
		Domains: []string{}, RolesGroups: []glossa.GroupMapping{}, WorkspacesGroups: []glossa.GroupMapping{}, ProjectsGroups: []glossa.ProjectMapping{},
	}
}

// handleSSOSettingsGet shows the caller's organization's SSO settings, or
// the defaults with configured=false.
func (s *Server) handleSSOSettingsGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	c, err := s.SSO.FindSAMLConnection(r.Context(), p.OrgID)
	configured := err == nil
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		c = defaultConnection(p.OrgID)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.ssoView(p, c, configured))
	return nil
}

// ssoRequest holds the fields a POST may change; absent fields keep their
// value.
type ssoRequest struct {
	MetadataXML           *string                  `json:"metadata_xml"`
	MetadataURL           *string                  `json:"metadata_url"`
	MetadataSigningCert   *string                  `json:"metadata_signing_cert"`
	IdPProvider           *string                  `json:"idp_provider"`
	Domain                json.RawMessage          `json:"domain"`
	MappingEmail          *string                  `json:"mapping_email"`
	MappingFirstName      *string                  `json:"mapping_first_name"`
	MappingLastName       *string                  `json:"mapping_last_name"`
	MappingGroups         *string                  `json:"mapping_groups"`
	RolesGroups           *[]glossa.GroupMapping   `json:"roles_groups"`
	WorkspacesGroups      *[]glossa.GroupMapping   `json:"workspaces_groups"`
	ProjectsGroups        *[]glossa.ProjectMapping `json:"projects_groups"`
	ManualRoleManagement  *bool                    `json:"manual_role_management"`
	EnforceSSO            *bool                    `json:"enforce_sso"`
	AllowIdPInitiated     *bool                    `json:"allow_idp_initiated"`
	DefaultRole           *string                  `json:"default_role"`
	RequireSignedResponse *bool                    `json:"require_signed_response"`
	SignAuthnRequests     *bool                    `json:"sign_authn_requests"`
	ClockSkewSeconds      *int64                   `json:"clock_skew_seconds"`

	// The settings page reads a form rather than JSON. What it could not
	// read (a mapping line without a comma, a skew that is not a number)
	// goes into problems, reported with the validation's own in one
	// answer; itemName names a mapping entry in messages by its line
	// ("Role mappings, line 3") where the API says "roles_groups[2]".
	problems []string
	itemName func(field string, i int) string
}

// ssoProblems lists every problem of refused SSO settings, one sentence
// each. saveSSOSettings wraps it in the EINVALID error, whose message joins
// them, so that the page can show them as a list.
type ssoProblems []string

func (p ssoProblems) Error() string { return strings.Join(p, " ") }

// handleSSOSettingsSave creates or updates the SSO settings. Every problem
// is reported at once, and nothing is saved unless all is well.
func (s *Server) handleSSOSettingsSave(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	var req ssoRequest
	if err := decodeJSON(r, 2*maxMetadataBytes, &req); err != nil {
		return err
	}
	c, err := s.saveSSOSettings(r, p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.ssoView(p, c, true))
	return nil
}

// saveSSOSettings validates req against the organization's current
// settings (or the defaults) and saves the result, audited. Every problem
// is reported at once, as an EINVALID error wrapping ssoProblems, and
// nothing is saved unless all is well. The API and the settings page both
// save through here, so they accept and refuse exactly the same settings.
func (s *Server) saveSSOSettings(r *http.Request, p *glossa.Principal, req ssoRequest) (*glossa.SAMLConnection, error) {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return nil, err
	}
	ctx := r.Context()
	old, err := s.SSO.FindSAMLConnection(ctx, p.OrgID)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		old = defaultConnection(p.OrgID)
	} else if err != nil {
		return nil, err
	}
	c := *old
	c.OrgID = p.OrgID
	problems := slices.Clone(req.problems)
	bad := func(format string, args ...any) {
		problems = append(problems, glossa.Errorf(glossa.EINVALID, format, args...).Message)
	}
	item := req.itemName
	if item == nil {
		item = func(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
	}
	str := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	str(&c.MetadataXML, req.MetadataXML)
	str(&c.MetadataSigningCert, req.MetadataSigningCert)
	// A pin that is no certificate is refused now, not only once metadata
	// arrives to be checked with it.
	pinOK := c.MetadataSigningCert == "" || pemCertificate(c.MetadataSigningCert) != nil
	if !pinOK {
		bad("The metadata signing certificate is not a PEM certificate: paste the certificate that signs the IdP's metadata, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.")
	}
	str(&c.MappingEmail, req.MappingEmail)
	str(&c.MappingFirstName, req.MappingFirstName)
	str(&c.MappingLastName, req.MappingLastName)
	str(&c.MappingGroups, req.MappingGroups)
	if req.MetadataURL != nil {
		// A URL is fetched now, so a wrong one is reported at once; the
		// server refreshes it in the background afterwards.
		c.MetadataURL = strings.TrimSpace(*req.MetadataURL)
		// (With a pin that is no certificate it is fetched on the next save.)
		if c.MetadataURL != "" && req.MetadataXML == nil && pinOK {
			if s.Metadata == nil {
				bad("This server does not fetch metadata URLs: send the metadata as metadata_xml.")
			} else if doc, err := s.Metadata.FetchMetadata(ctx, c.MetadataURL, c.MetadataSigningCert); err != nil {
				bad("metadata_url: %s", glossa.ErrorMessage(err))
			} else {
				now := s.Now()
				c.MetadataXML, c.FetchedAt, c.FetchError = string(doc), &now, ""
			}
		}
	}
	if req.IdPProvider != nil {
		c.IdPProvider = strings.ToLower(strings.TrimSpace(*req.IdPProvider))
		if !slices.Contains(idpProviders, c.IdPProvider) {
			bad("idp_provider must be one of %s.", strings.Join(idpProviders, ", "))
		}
	}
	if len(req.Domain) > 0 {
		domains, err := parseDomains(req.Domain)
		if err != nil {
			bad("%s", glossa.ErrorMessage(err))
		}
		c.Domains = domains
	}
	if req.RolesGroups != nil {
		c.RolesGroups = *req.RolesGroups
		for i, g := range c.RolesGroups {
			role, err := glossa.ParseRole(g.Name)
			switch {
			case err != nil:
				bad("%s: %s", item("roles_groups", i), glossa.ErrorMessage(err))
			case role == glossa.RoleOwner:
				bad("%s: the Owner role cannot come from a group.", item("roles_groups", i))
			default:
				c.RolesGroups[i].Name = string(role)
			}
			if strings.TrimSpace(g.Group) == "" {
				bad("%s: the group is empty.", item("roles_groups", i))
			}
		}
	}
	if req.WorkspacesGroups != nil {
		c.WorkspacesGroups = *req.WorkspacesGroups
		for i, g := range c.WorkspacesGroups {
			if err := validateTitle("workspaces_groups workspace", strings.TrimSpace(g.Name)); err != nil {
				bad("%s: %s", item("workspaces_groups", i), glossa.ErrorMessage(err))
			}
			if strings.TrimSpace(g.Group) == "" {
				bad("%s: the group is empty.", item("workspaces_groups", i))
			}
		}
	}
	if req.ProjectsGroups != nil {
		c.ProjectsGroups = *req.ProjectsGroups
		for i, g := range c.ProjectsGroups {
			if _, err := s.Projects.FindProjectByID(ctx, p.OrgID, g.ProjectID); glossa.ErrorCode(err) == glossa.ENOTFOUND {
				bad("%s: project %d is not a project of this organization.", item("projects_groups", i), g.ProjectID)
			} else if err != nil {
				return nil, err
			}
			role, err := glossa.ParseProjectRole(string(g.Role))
			if err != nil {
				bad("%s: %s", item("projects_groups", i), glossa.ErrorMessage(err))
			}
			c.ProjectsGroups[i].Role = role
			if strings.TrimSpace(g.Group) == "" {
				bad("%s: the group is empty.", item("projects_groups", i))
			}
		}
	}
	if req.DefaultRole != nil {
		role, err := glossa.ParseRole(*req.DefaultRole)
		switch {
		case err != nil:
			bad("default_role: %s", glossa.ErrorMessage(err))
		case role == glossa.RoleOwner:
			bad("default_role cannot be Owner.")
		default:
			c.DefaultRole = role
		}
	}
	for dst, v := range map[*bool]*bool{
		&c.ManualRoleManagement: req.ManualRoleManagement, &c.EnforceSSO: req.EnforceSSO, &c.AllowIdPInitiated: req.AllowIdPInitiated,
		&c.RequireSignedResponse: req.RequireSignedResponse, &c.SignAuthnRequests: req.SignAuthnRequests,
	} {
		if v != nil {
			*dst = *v
		}
	}
	if req.ClockSkewSeconds != nil {
		// The SAML library's own bound is 180 s; 0 means the default.
		if *req.ClockSkewSeconds < 0 || *req.ClockSkewSeconds > 180 {
			bad("clock_skew_seconds must be between 1 and 180 (0 means the default, 180).")
		}
		c.ClockSkew = time.Duration(*req.ClockSkewSeconds) * time.Second
		if c.ClockSkew == 0 {
			c.ClockSkew = glossa.DefaultClockSkew
		}
	}
	// A byte-order mark is how some editors save XML; it is not part of it.
	c.MetadataXML = strings.TrimPrefix(c.MetadataXML, "\ufeff")
	if c.MetadataXML != "" {
		if err := checkIdPMetadata(c.MetadataXML); err != nil {
			bad("%s", glossa.ErrorMessage(err))
		} else if s.Metadata != nil && pinOK {
			// The full reading (certificates, endpoints, a pinned signer),
			// so that a save never leaves sign-in broken.
			if err := s.Metadata.CheckMetadata(c.MetadataXML, c.MetadataSigningCert); err != nil {
				bad("%s", glossa.ErrorMessage(err))
			}
		}
	}
	if c.EnforceSSO && c.MetadataXML == "" {
		bad("enforce_sso needs a connected identity provider: send its metadata_xml first, and test a sign-in before enforcing.")
	}
	if len(problems) > 0 {
		return nil, glossa.Wrap(glossa.EINVALID, ssoProblems(problems), strings.Join(problems, " "))
	}
	if err := s.SSO.SaveSAMLConnection(ctx, &c); err != nil {
		return nil, err
	}
	s.audit(ctx, r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "sso.settings.update", Outcome: glossa.OutcomeSuccess,
		TargetType: "organization", TargetID: idString(p.OrgID), Detail: map[string]any{"changed": changedSSOFields(old, &c)}})
	return &c, nil
}

// handleSSOSettingsDelete disconnects the organization from its IdP;
// password sign-in works again for everyone.
func (s *Server) handleSSOSettingsDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.deleteSSOSettings(r, p); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteSSOSettings removes the organization's SAML connection, audited;
// the API and the settings page's Disconnect button both come here.
func (s *Server) deleteSSOSettings(r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	if err := s.SSO.DeleteSAMLConnection(r.Context(), p.OrgID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "sso.settings.delete", Outcome: glossa.OutcomeSuccess,
		TargetType: "organization", TargetID: idString(p.OrgID)})
	return nil
}

// parseDomains reads Label Studio's comma-separated string or a JSON list.
func parseDomains(raw json.RawMessage) ([]string, error) {
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		list = strings.Split(one, ",")
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "domain must be a comma-separated string or a list of domains.")
	}
	out := []string{}
	for _, d := range list {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || slices.Contains(out, d) {
			continue
		}
		if !validDomain(d) {
			return nil, glossa.Errorf(glossa.EINVALID, "%q is not a domain such as example.com.", truncate(d, 100))
		}
		if slices.Contains(publicMailDomains, d) {
			return nil, glossa.Errorf(glossa.EINVALID, "%q is a public mail provider: everybody has an address there, so it cannot route to your identity provider.", d)
		}
		out = append(out, d)
	}
	if len(out) > 50 {
		return nil, glossa.Errorf(glossa.EINVALID, "At most 50 domains.")
	}
	return out, nil
}

// validDomain checks a DNS name with at least two labels.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkIdPMetadata is a first look at pasted metadata: well-formed XML
// without a DOCTYPE, whose root is an EntityDescriptor with an
// IDPSSODescriptor. The SAML package does the full reading.
func checkIdPMetadata(doc string) error {
	if len(doc) > maxMetadataBytes {
		return glossa.Errorf(glossa.ETOOLARGE, "metadata_xml is larger than 1 MiB.")
	}
	dec := xml.NewDecoder(strings.NewReader(doc))
	depth, root, idp := 0, "", false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return glossa.Errorf(glossa.EINVALID, "metadata_xml is not well-formed XML: paste the IdP's metadata file as it is.")
		}
		switch t := tok.(type) {
		case xml.Directive:
			return glossa.Errorf(glossa.EINVALID, "metadata_xml must not contain a DOCTYPE.")
		case xml.StartElement:
			if depth == 0 {
				root = t.Name.Local
			}
			if t.Name.Local == "IDPSSODescriptor" {
				idp = true
			}
			depth++
			if depth > 64 {
				return glossa.Errorf(glossa.EINVALID, "metadata_xml is nested too deep.")
			}
		case xml.EndElement:
			depth--
		}
	}
	if root != "EntityDescriptor" || !idp {
		return glossa.Errorf(glossa.EINVALID, "metadata_xml must be one IdP's metadata: an <EntityDescriptor> with an <IDPSSODescriptor>.")
	}
	return nil
}

// changedSSOFields names the settings a save changed, for the audit log
// (names only: metadata and mappings can be long).
func changedSSOFields(before, after *glossa.SAMLConnection) []string {
	var b, a map[string]any
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	_ = json.Unmarshal(bj, &b)
	_ = json.Unmarshal(aj, &a)
	var changed []string
	for k, v := range a {
		if k == "updated_at" || k == "created_at" {
			continue
		}
		x, _ := json.Marshal(v)
		y, _ := json.Marshal(b[k])
		if string(x) != string(y) {
			changed = append(changed, k)
		}
	}
	if before.ClockSkew != after.ClockSkew {
		changed = append(changed, "clock_skew_seconds")
	}
	slices.Sort(changed)
	return changed
}
