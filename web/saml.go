package web

// The SAML service provider's HTTP endpoints: metadata, SP-initiated
// sign-in, the assertion consumer service. The protocol work (XML,
// signatures, the validation policy, attribute mapping) is the saml
// package's; this file binds it to organizations, browsers and sessions.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/authz"
)

// SAMLProvider is one organization's SAML service provider, as the web
// layer uses it.
type SAMLProvider interface {
	// Metadata is the SP metadata XML.
	Metadata() ([]byte, error)
	// AuthnRequestURL starts an SP-initiated sign-in (HTTP-Redirect).
	AuthnRequestURL(relayState string, now time.Time) (redirectURL, requestID string, err error)
	// ParseResponse validates a base64 SAMLResponse posted to the ACS and
	// says who it names; any error is a rejection whose text is for the
	// audit log only.
	ParseResponse(ctx context.Context, samlResponse string, possibleRequestIDs []string, now time.Time) (*glossa.SAMLIdentity, error)
	// Grant maps the identity's groups to a role, workspaces and projects.
	Grant(id *glossa.SAMLIdentity) SSOGrant

	// LogoutRequestURL starts SP-initiated single logout of an IdP session
	// (HTTP-Redirect, signed); it fails when the IdP has no SLO endpoint.
	LogoutRequestURL(ss *glossa.SAMLSession, relayState string, now time.Time) (redirectURL, requestID string, err error)
	// ParseLogoutRequest verifies an IdP's LogoutRequest (signed, not
	// replayed, ours); ParseLogoutResponse the IdP's answer to ours.
	ParseLogoutRequest(ctx context.Context, msg SAMLLogoutMessage, now time.Time) (*SAMLLogoutRequest, error)
	ParseLogoutResponse(ctx context.Context, msg SAMLLogoutMessage, possibleRequestIDs []string, now time.Time) error
	// LogoutResponseURL answers an IdP's LogoutRequest.
	LogoutResponseURL(inResponseTo, relayState string, now time.Time) (string, error)
}

// SAMLLogoutMessage is a logout message as it reached the SLO endpoint:
// the raw query of a Redirect-binding GET, or the form value of a POST.
type SAMLLogoutMessage struct {
	RawQuery string
	Form     string
}

// SAMLLogoutRequest is a verified IdP LogoutRequest.
type SAMLLogoutRequest struct {
	ID             string
	IdPEntityID    string
	NameID         string
	SessionIndexes []string
	RelayState     string
}

// MetadataFetcher downloads an IdP's metadata from a URL and checks that it
// reads as one IdP's metadata (signed by pinnedCertPEM when set);
// CheckMetadata does the same reading of pasted metadata.
type MetadataFetcher interface {
	FetchMetadata(ctx context.Context, url, pinnedCertPEM string) ([]byte, error)
	CheckMetadata(metadataXML, pinnedCertPEM string) error
}

// SSOGrant is what a person's IdP groups give them.
type SSOGrant struct {
	// Role is the highest role any group maps to, or the connection's
	// default role when none does.
	Role       glossa.Role
	Workspaces []string // titles
	Projects   []glossa.ProjectMapping
}

// SAMLProviders builds an organization's service provider from its
// connection (with its SP keys, made on first use), and rotates the keys.
type SAMLProviders interface {
	Provider(ctx context.Context, org *glossa.Organization, conn *glossa.SAMLConnection) (SAMLProvider, error)
	// SPMetadata is the organization's SP metadata, also before its IdP's
	// metadata is known (the IdP often needs ours first).
	SPMetadata(ctx context.Context, org *glossa.Organization, conn *glossa.SAMLConnection) ([]byte, error)
	// RotateKeys adds a new signing and a new encryption key pair; the
	// new ones sign, the old ones stay published and keep decrypting until
	// they are retired, so an IdP that has not yet read the new metadata
	// keeps working.
	RotateKeys(ctx context.Context, org *glossa.Organization) error
}

// SSOHook runs after a SAML sign-in is accepted, with the person, their
// identity and the original base64 response (the federation issue
// exchanges it for cloud credentials). Its failure never fails the sign-in.
type SSOHook func(ctx context.Context, m *glossa.Member, id *glossa.SAMLIdentity, samlResponse string) error

// samlRequestLifetime bounds how long a started sign-in may take at the IdP.
const samlRequestLifetime = 10 * time.Minute

// maxSAMLPost bounds the ACS form body (the response is base64 inside it).
const maxSAMLPost = 512 << 10

// errSSORejected is the one sentence every rejected SAML response shows;
// the reason goes to the audit log under the request ID shown with it.
var errSSORejected = glossa.Errorf(glossa.EUNAUTHORIZED, "Single sign-on did not succeed. Try again from your organization's sign-in page; if it keeps failing, give your administrator the request ID below.")

// samlReason is a rejection reason as the audit log keeps it: prefixed
// "saml:" (the saml package's errors already are) and bounded.
func samlReason(reason string) string {
	if !strings.HasPrefix(reason, "saml:") {
		reason = "saml: " + reason
	}
	return truncate(reason, 500)
}

// ssoOrg resolves {org} to an organization with a saved SAML connection;
// both missing look the same.
func (s *Server) ssoOrg(r *http.Request) (*glossa.Organization, *glossa.SAMLConnection, error) {
	ctx := r.Context()
	org, err := s.Orgs.FindOrganizationBySlug(ctx, r.PathValue("org"))
	if err != nil {
		return nil, nil, err
	}
	conn, err := s.SSO.FindSAMLConnection(ctx, org.ID)
	if err != nil {
		return nil, nil, err
	}
	if s.SAML == nil {
		return nil, nil, glossa.NotFound("SSO connection")
	}
	return org, conn, nil
}

func (s *Server) ssoProvider(r *http.Request) (*glossa.Organization, *glossa.SAMLConnection, SAMLProvider, error) {
	org, conn, err := s.ssoOrg(r)
	if err != nil {
		return nil, nil, nil, err
	}
	// Signing in needs the IdP's metadata; the SP metadata does not.
	if conn.MetadataXML == "" {
		return nil, nil, nil, glossa.NotFound("SSO connection")
	}
	sp, err := s.SAML.Provider(r.Context(), org, conn)
	if err != nil {
		return nil, nil, nil, err
	}
	return org, conn, sp, nil
}

// handleSAMLMetadata serves the organization's SP metadata. It needs a
// saved connection, not yet the IdP's metadata.
func (s *Server) handleSAMLMetadata(w http.ResponseWriter, r *http.Request) error {
	org, conn, err := s.ssoOrg(r)
	if err != nil {
		return err
	}
	md, err := s.SAML.SPMetadata(r.Context(), org, conn)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="glossa-`+org.Slug+`-sp-metadata.xml"`)
	}
	_, err = w.Write(md)
	return err
}

// bindingCookie names the cookie that binds a started sign-in to the
// browser that started it (login CSRF and response injection defence).
func bindingCookie(secure bool) string {
	if secure {
		return "__Host-glossa_sso"
	}
	return "glossa_sso"
}

// browserBinding returns the browser's binding secret, making one if it
// has none. On HTTPS the cookie is SameSite=None, so that it comes along
// with the IdP's cross-site POST; only its hash is stored.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) string {
	secure := s.secure(r)
	v := randomHandle()
	if c, err := r.Cookie(bindingCookie(secure)); err == nil && len(c.Value) == 43 {
		v = c.Value // keep it, so sign-ins started in other tabs still match
	}
	// Set it again either way: its lifetime restarts with each sign-in.
	c := &http.Cookie{Name: bindingCookie(secure), Value: v, Path: "/", HttpOnly: true, Secure: secure,
		MaxAge: int(samlRequestLifetime / time.Second), SameSite: http.SameSiteLaxMode}
	if secure {
		c.SameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
	return v
}

// takeSAMLRequest takes the pending request named by relay, if this
// browser (its binding cookie) started it.
func (s *Server) takeSAMLRequest(r *http.Request, orgID int64, relay string, now time.Time) (*glossa.SAMLRequest, error) {
	binding := ""
	if c, err := r.Cookie(bindingCookie(s.secure(r))); err == nil {
		binding = c.Value
	}
	return s.SSO.TakeSAMLRequest(r.Context(), orgID, relay, auth.HashSecret(binding), now)
}

func randomHandle() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// handleSAMLLogin starts an SP-initiated sign-in: it records the request
// under an opaque RelayState handle bound to this browser, with the local
// path to return to, and sends the browser to the IdP.
func (s *Server) handleSAMLLogin(w http.ResponseWriter, r *http.Request) error {
	return s.startSAMLRequest(w, r, glossa.SAMLSignIn, afterSignIn(r.URL.Query().Get("next")))
}

// handleSAMLTest starts an Owner's or Administrator's test sign-in: the
// whole flow through the IdP, ending on a page that shows what the IdP sent
// and what the mappings would give, without a session or any change.
func (s *Server) handleSAMLTest(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if r.PathValue("org") != p.OrgSlug {
		return glossa.NotFound("SSO connection")
	}
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	return s.startSAMLRequest(w, r, glossa.SAMLTest, "/organization/sso")
}

func (s *Server) startSAMLRequest(w http.ResponseWriter, r *http.Request, purpose, returnTo string) error {
	org, _, sp, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	now := s.Now()
	relay := randomHandle()
	redirect, requestID, err := sp.AuthnRequestURL(relay, now)
	if err != nil {
		return err
	}
	req := &glossa.SAMLRequest{
		Purpose: purpose, ID: requestID, OrgID: org.ID, RelayState: relay, BrowserHash: auth.HashSecret(s.browserBinding(w, r)),
		ReturnTo: returnTo, ExpiresAt: now.Add(samlRequestLifetime),
	}
	if err := s.SSO.CreateSAMLRequest(r.Context(), req); err != nil {
		return err
	}
	http.Redirect(w, r, redirect, http.StatusFound)
	return nil
}

// handleSAMLACS is the assertion consumer service (HTTP-POST binding). The
// organization comes only from the path. Every rejection shows the same
// page; the reason goes to the audit log.
//
// Security-sensitive.
func (s *Server) handleSAMLACS(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	org, conn, sp, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	reject := func(reason string) error {
		s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, Action: "signin", Outcome: glossa.OutcomeFailure,
			Reason: samlReason(reason), Detail: map[string]any{"method": "saml"}})
		return errSSORejected
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLPost)
	if err := r.ParseForm(); err != nil {
		return reject("the form could not be read (too large or malformed)")
	}
	response, relay := r.PostForm.Get("SAMLResponse"), r.PostForm.Get("RelayState")
	if response == "" {
		return reject("no SAMLResponse in the POST")
	}
	now := s.Now()
	var possibleIDs []string
	returnTo, purpose := "/projects", glossa.SAMLSignIn
	if relay != "" {
		req, err := s.takeSAMLRequest(r, org.ID, relay, now)
		switch {
		case err == nil && req.Purpose == glossa.SAMLLogout:
			return reject("RelayState names a logout, not a sign-in")
		case err == nil:
			possibleIDs, returnTo, purpose = []string{req.ID}, req.ReturnTo, req.Purpose
		case glossa.ErrorCode(err) != glossa.ENOTFOUND:
			return err
		case !conn.AllowIdPInitiated:
			return reject("RelayState names no sign-in that this browser started (unknown, expired, used, or another browser)")
		}
		// IdP-initiated with a RelayState of the IdP's: the return path is
		// ours to choose, never the IdP's.
	} else if !conn.AllowIdPInitiated {
		return reject("unsolicited response and IdP-initiated sign-in is not allowed")
	}
	id, err := sp.ParseResponse(ctx, response, possibleIDs, now)
	if purpose == glossa.SAMLTest {
		return s.showSSOTest(w, r, org, conn, sp, id, err)
	}
	if err != nil {
		return reject(err.Error())
	}
	m, err := s.provisionSSO(ctx, r, org, conn, id, sp.Grant(id))
	if err != nil {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return reject(glossa.ErrorMessage(err))
	}
	if _, err := s.startSession(w, r, org, m, id); err != nil {
		return err
	}
	s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, ActorID: m.ID, ActorEmail: m.Email, Action: "signin", Outcome: glossa.OutcomeSuccess,
		Detail: map[string]any{"method": "saml", "idp": id.IdPEntityID, "name_id": id.NameID, "groups": len(id.Groups)}})
	if s.AfterSSO != nil {
		if err := s.AfterSSO(ctx, m, id, response); err != nil {
			s.Logger.WarnContext(ctx, "post-sign-in hook failed; the sign-in stands", "err", err)
		}
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
	return nil
}

// provisionSSO finds or creates the account an identity names and, when
// the IdP manages roles, brings the role and memberships in line with its
// groups.
//
// The identity key is (organization, IdP entity ID, NameID). The first
// sign-in of an identity links it to an existing account of the same
// organization only when the account's email is in one of the domains the
// organization routes to this IdP (the Owner declared the IdP authoritative
// for those addresses); otherwise it creates an account, and refuses if the
// email is taken. Nothing ever links across organizations.
func (s *Server) provisionSSO(ctx context.Context, r *http.Request, org *glossa.Organization, conn *glossa.SAMLConnection, id *glossa.SAMLIdentity, g SSOGrant) (*glossa.Member, error) {
	m, err := s.SSO.FindSAMLMember(ctx, org.ID, id.IdPEntityID, id.NameID)
	switch {
	case err == nil:
	case glossa.ErrorCode(err) != glossa.ENOTFOUND:
		return nil, err
	default:
		if m, err = s.firstSSOSignIn(ctx, r, org, conn, id, g); err != nil {
			return nil, err
		}
	}
	if m.Role == glossa.RoleDeactivated {
		return nil, glossa.Errorf(glossa.EUNAUTHORIZED, "account %s is deactivated", m.Email)
	}
	if !conn.ManualRoleManagement {
		if err := s.syncSSOGrant(ctx, r, org, conn, m, g); err != nil {
			return nil, err
		}
	}
	// m is current without reading it again: it was read (or created) by
	// this sign-in, and syncSSOGrant puts the member it updates back in it.
	return m, nil
}

// firstSSOSignIn links or creates the account for a new identity.
func (s *Server) firstSSOSignIn(ctx context.Context, r *http.Request, org *glossa.Organization, conn *glossa.SAMLConnection, id *glossa.SAMLIdentity, g SSOGrant) (*glossa.Member, error) {
	email := strings.ToLower(strings.TrimSpace(id.Email))
	if err := glossa.ValidateEmail(email); err != nil {
		return nil, glossa.Errorf(glossa.EINVALID, "the assertion carries no usable email attribute (%q)", truncate(id.Email, 100))
	}
	existing, err := s.Members.FindMemberByEmail(ctx, org.ID, email)
	switch {
	case err == nil:
		domain := email[strings.LastIndexByte(email, '@')+1:]
		authoritative := false
		for _, d := range conn.Domains {
			authoritative = authoritative || d == domain
		}
		if !authoritative {
			return nil, glossa.Errorf(glossa.ECONFLICT, "an account with the email %s exists and its domain is not routed to this IdP, so it is not linked", email)
		}
		if err := s.SSO.LinkSAMLIdentity(ctx, org.ID, id.IdPEntityID, id.NameID, existing.ID); err != nil {
			return nil, err
		}
		s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, ActorID: existing.ID, ActorEmail: email, Action: "sso.link", Outcome: glossa.OutcomeSuccess,
			TargetType: "user", TargetID: idString(existing.ID), Detail: map[string]any{"idp": id.IdPEntityID, "name_id": id.NameID}})
		return existing, nil
	case glossa.ErrorCode(err) != glossa.ENOTFOUND:
		return nil, err
	}
	role := g.Role
	if !role.Valid() || role == glossa.RoleOwner {
		role = glossa.RoleNotActivated
	}
	u := &glossa.User{OrgID: org.ID, Email: email, FirstName: id.FirstName, LastName: id.LastName}
	if err := s.Members.CreateMember(ctx, u, role); err != nil {
		return nil, err
	}
	if err := s.SSO.LinkSAMLIdentity(ctx, org.ID, id.IdPEntityID, id.NameID, u.ID); err != nil {
		return nil, err
	}
	s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, ActorID: u.ID, ActorEmail: email, Action: "member.add", Outcome: glossa.OutcomeSuccess,
		TargetType: "user", TargetID: idString(u.ID), Detail: map[string]any{"via": "sso", "role": role, "idp": id.IdPEntityID}})
	m := &glossa.Member{User: *u, Role: role}
	if conn.ManualRoleManagement {
		// The groups give the first memberships; later the admins manage them.
		if err := s.syncSSOGrant(ctx, r, org, conn, m, g); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// syncSSOGrant makes the member's role and the memberships that the
// mappings govern match the grant: the role (never the Owner's), every
// workspace named in workspaces_groups and every project named in
// projects_groups. Memberships the mappings do not mention are left alone.
//
// It updates m when it changes the role.
func (s *Server) syncSSOGrant(ctx context.Context, r *http.Request, org *glossa.Organization, conn *glossa.SAMLConnection, m *glossa.Member, g SSOGrant) error {
	if m.Role != glossa.RoleOwner && g.Role.Valid() && g.Role != glossa.RoleOwner && m.Role != g.Role {
		updated, err := s.Members.UpdateMemberRole(ctx, org.ID, m.ID, g.Role)
		if err != nil {
			return err
		}
		s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, Action: "role.change", Outcome: glossa.OutcomeSuccess, ActorID: m.ID, ActorEmail: m.Email,
			TargetType: "user", TargetID: idString(m.ID), Detail: map[string]any{"email": m.Email, "from": m.Role, "to": g.Role, "via": "sso"}})
		*m = *updated
	}
	if len(conn.WorkspacesGroups) == 0 && len(conn.ProjectsGroups) == 0 {
		return nil // no membership is governed by the mappings
	}
	byTitle := map[string]*glossa.Workspace{}
	if len(conn.WorkspacesGroups) > 0 {
		workspaces, err := s.Workspaces.FindWorkspaces(ctx, glossa.WorkspaceFilter{OrgID: org.ID})
		if err != nil {
			return err
		}
		for i := range workspaces {
			byTitle[workspaces[i].Title] = &workspaces[i]
		}
	}
	access, err := s.Members.FindAccess(ctx, org.ID, m.ID)
	if err != nil {
		return err
	}
	granted := map[string]bool{}
	for _, t := range g.Workspaces {
		granted[t] = true
	}
	for _, wg := range conn.WorkspacesGroups {
		ws := byTitle[wg.Name]
		if ws == nil && granted[wg.Name] {
			// Label Studio creates a mapped workspace that does not exist yet.
			ws = &glossa.Workspace{OrgID: org.ID, Title: wg.Name, Description: "Created for the SSO group mapping."}
			if err := s.Workspaces.CreateWorkspace(ctx, ws); err != nil {
				return err
			}
			byTitle[wg.Name] = ws
		}
		if ws == nil {
			continue
		}
		switch member := access.Workspaces[ws.ID]; {
		case granted[wg.Name] && !member:
			err = s.Workspaces.AddWorkspaceMember(ctx, org.ID, ws.ID, m.ID)
		case !granted[wg.Name] && member:
			err = s.Workspaces.RemoveWorkspaceMember(ctx, org.ID, ws.ID, m.ID)
		}
		if err != nil {
			return err
		}
		access.Workspaces[ws.ID] = granted[wg.Name]
	}
	grantedProjects := map[int64]glossa.ProjectRole{}
	for _, p := range g.Projects {
		grantedProjects[p.ProjectID] = p.Role
	}
	for _, pg := range conn.ProjectsGroups {
		role, ok := grantedProjects[pg.ProjectID]
		current, member := access.Projects[pg.ProjectID]
		switch {
		case ok && (!member || current != role):
			err = s.Projects.SetProjectMember(ctx, org.ID, pg.ProjectID, m.ID, role)
		case !ok && member:
			err = s.Projects.RemoveProjectMember(ctx, org.ID, pg.ProjectID, m.ID)
		}
		if glossa.ErrorCode(err) == glossa.ENOTFOUND {
			err = nil // the mapped project was deleted since
		}
		if err != nil {
			return err
		}
		if ok {
			access.Projects[pg.ProjectID] = role
		} else {
			delete(access.Projects, pg.ProjectID)
		}
	}
	return nil
}

// startSingleLogout is called when a person signs out of a session that
// came from SAML: it ends the session here, then sends the browser to the
// IdP with a signed LogoutRequest so the IdP session ends too. It returns
// "" when there is nothing to do at the IdP (no SAML session, no SLO
// endpoint), and the caller finishes with a local sign-out.
func (s *Server) startSingleLogout(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	sess := sessionFromContext(ctx)
	if sess == nil || sess.Method != "saml" || s.SAML == nil {
		return "", nil
	}
	ss, err := s.SSO.FindSAMLSession(ctx, sess.IDHash)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return "", nil
	} else if err != nil {
		return "", err
	}
	org, err := s.Orgs.FindOrganizationByID(ctx, ss.OrgID)
	if err != nil {
		return "", err
	}
	conn, err := s.SSO.FindSAMLConnection(ctx, org.ID)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return "", nil
	} else if err != nil {
		return "", err
	}
	sp, err := s.SAML.Provider(ctx, org, conn)
	if err != nil {
		return "", err
	}
	now := s.Now()
	relay := randomHandle()
	redirect, requestID, err := sp.LogoutRequestURL(ss, relay, now)
	if err != nil {
		s.Logger.InfoContext(ctx, "single logout not started; signing out here only", "org", org.Slug, "err", err)
		return "", nil
	}
	req := &glossa.SAMLRequest{Purpose: glossa.SAMLLogout, ID: requestID, OrgID: org.ID, RelayState: relay, BrowserHash: auth.HashSecret(s.browserBinding(w, r)),
		ReturnTo: "/user/login?notice=signed-out", ExpiresAt: now.Add(samlRequestLifetime)}
	if err := s.SSO.CreateSAMLRequest(ctx, req); err != nil {
		return "", err
	}
	return redirect, nil
}

// handleSAMLSLO is the single logout endpoint. An IdP's LogoutRequest
// (signed, not replayed) ends the Glossa sessions of its subject and is
// answered with a LogoutResponse; the IdP's LogoutResponse to our request
// finishes an SP-initiated logout in the browser that started it.
//
// Security-sensitive: unsigned or replayed messages are refused.
func (s *Server) handleSAMLSLO(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	org, _, sp, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	refuse := func(reason string) error {
		s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, Action: "signout", Outcome: glossa.OutcomeFailure,
			Reason: samlReason(reason), Detail: map[string]any{"method": "saml"}})
		return glossa.Errorf(glossa.EINVALID, "The single logout message was refused. Close the browser to end every session, and give your administrator the request ID below.")
	}
	var msg SAMLLogoutMessage
	var isRequest bool
	var relay string
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxSAMLPost)
		if err := r.ParseForm(); err != nil {
			return refuse("the form could not be read")
		}
		msg.Form = r.PostForm.Get("SAMLRequest")
		isRequest = msg.Form != ""
		if !isRequest {
			msg.Form = r.PostForm.Get("SAMLResponse")
		}
		relay = r.PostForm.Get("RelayState")
	} else {
		q := r.URL.Query()
		msg.RawQuery = r.URL.RawQuery
		isRequest = q.Get("SAMLRequest") != ""
		relay = q.Get("RelayState")
	}
	now := s.Now()
	if isRequest {
		lr, err := sp.ParseLogoutRequest(ctx, msg, now)
		if err != nil {
			return refuse(err.Error())
		}
		n, err := s.SSO.DeleteSAMLSessions(ctx, org.ID, lr.IdPEntityID, lr.NameID, lr.SessionIndexes)
		if err != nil {
			return err
		}
		s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, Action: "signout", Outcome: glossa.OutcomeSuccess,
			Detail: map[string]any{"method": "saml", "initiated_by": "idp", "name_id": lr.NameID, "sessions_ended": n}})
		back, err := sp.LogoutResponseURL(lr.ID, lr.RelayState, now)
		if err != nil {
			return err
		}
		http.Redirect(w, r, back, http.StatusFound)
		return nil
	}
	if msg.Form == "" && r.URL.Query().Get("SAMLResponse") == "" {
		return refuse("neither SAMLRequest nor SAMLResponse")
	}
	req, err := s.takeSAMLRequest(r, org.ID, relay, now)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND || (err == nil && req.Purpose != glossa.SAMLLogout) {
		return refuse("the LogoutResponse answers no logout that this browser started")
	} else if err != nil {
		return err
	}
	if err := sp.ParseLogoutResponse(ctx, msg, []string{req.ID}, now); err != nil {
		return refuse(err.Error())
	}
	http.Redirect(w, r, req.ReturnTo, http.StatusSeeOther)
	return nil
}

// continueTo sends the browser on to target through a small page with a
// Refresh header instead of a redirect. A redirect that answers a form
// submission is checked against the page's CSP form-action ('self'), and an
// IdP is another origin; the Refresh navigation starts afresh.
func (s *Server) continueTo(w http.ResponseWriter, r *http.Request, target, title string) {
	w.Header().Set("Refresh", "0;url="+target)
	pd := s.newPage(r, glossa.PrincipalFromContext(r.Context()), title)
	pd.Data = target
	s.render(w, r, http.StatusOK, "continue", pd)
}

// ssoTestData is the test sign-in page's Data.
type ssoTestData struct {
	Rejected string // the reason, when the IdP's response was refused
	Identity *glossa.SAMLIdentity
	Grant    SSOGrant
	// Account says what a real sign-in would do with the account.
	Account string
	SignIn  string // the SP-initiated sign-in URL, to try for real
}

// showSSOTest shows an Owner what a test sign-in received. It is the one
// place a rejection's reason reaches the browser: the request was started
// by a signed-in Owner or Administrator in this very browser, and seeing
// the reason is the point of the test. Nothing is provisioned, no session
// is made; the test is audited.
func (s *Server) showSSOTest(w http.ResponseWriter, r *http.Request, org *glossa.Organization, conn *glossa.SAMLConnection, sp SAMLProvider, id *glossa.SAMLIdentity, parseErr error) error {
	ctx := r.Context()
	data := ssoTestData{SignIn: "/saml/" + org.Slug + "/login"}
	outcome, reason := glossa.OutcomeSuccess, ""
	if parseErr != nil {
		outcome, reason = glossa.OutcomeFailure, samlReason(parseErr.Error())
		data.Rejected = reason
	} else {
		data.Identity, data.Grant = id, sp.Grant(id)
		data.Account = s.describeSSOAccount(ctx, org, conn, id)
	}
	s.audit(ctx, r, &glossa.AuditEvent{OrgID: org.ID, Action: "sso.test", Outcome: outcome, Reason: reason, Detail: map[string]any{"method": "saml"}})
	pd := s.newPage(r, glossa.PrincipalFromContext(ctx), "Test sign-in")
	pd.Data = data
	s.render(w, r, http.StatusOK, "sso_test", pd)
	return nil
}

// describeSSOAccount says, without changing anything, what a sign-in with
// this identity would do with accounts (see provisionSSO).
func (s *Server) describeSSOAccount(ctx context.Context, org *glossa.Organization, conn *glossa.SAMLConnection, id *glossa.SAMLIdentity) string {
	if m, err := s.SSO.FindSAMLMember(ctx, org.ID, id.IdPEntityID, id.NameID); err == nil {
		return "Signs in as the linked account " + m.Email + " (" + string(m.Role) + ")."
	}
	email := strings.ToLower(strings.TrimSpace(id.Email))
	if glossa.ValidateEmail(email) != nil {
		return "Would be refused: the assertion carries no usable email attribute. Check the email attribute name."
	}
	if m, err := s.Members.FindMemberByEmail(ctx, org.ID, email); err == nil {
		domain := email[strings.LastIndexByte(email, '@')+1:]
		for _, d := range conn.Domains {
			if d == domain {
				return "Would link to the existing account " + m.Email + " (" + string(m.Role) + ") at the first sign-in."
			}
		}
		return "Would be refused: an account " + m.Email + " exists and its domain is not one of this organization's SSO domains."
	}
	return "Would create the account " + email + " at the first sign-in."
}
