package web

// Sign-in, sign-out and first-run setup pages.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// loginData is the sign-in form's Data. The password is never sent back.
type loginData struct {
	Email, Org, Next string
	// SSO is what was typed into "Continue with SSO".
	SSO string
}

// handleUILoginForm shows the sign-in form; a signed-in visitor goes
// straight on.
func (s *Server) handleUILoginForm(w http.ResponseWriter, r *http.Request) error {
	next := localPath(r.URL.Query().Get("next"))
	if glossa.PrincipalFromContext(r.Context()) != nil {
		http.Redirect(w, r, afterSignIn(next), http.StatusSeeOther)
		return nil
	}
	pd := s.newPage(r, nil, "Sign in")
	pd.Data = loginData{Next: next, Org: r.URL.Query().Get("org")}
	s.render(w, r, http.StatusOK, "login", pd)
	return nil
}

// handleUISSOStart sends a person to their organization's IdP: by the
// domain of a work email, or by the organization's slug. Without a
// connection it says so on the sign-in page.
func (s *Server) handleUISSOStart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("id")))
	next := localPath(r.URL.Query().Get("next"))
	var orgID int64
	if at := strings.LastIndexByte(id, '@'); at >= 0 {
		if conn, err := s.SSO.FindSAMLConnectionByDomain(ctx, id[at+1:]); err == nil {
			orgID = conn.OrgID
		} else if glossa.ErrorCode(err) != glossa.ENOTFOUND {
			return err
		}
	} else if org, err := s.Orgs.FindOrganizationBySlug(ctx, id); err == nil {
		if conn, err := s.SSO.FindSAMLConnection(ctx, org.ID); err == nil && conn.MetadataXML != "" {
			orgID = org.ID
		} else if err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
			return err
		}
	} else if glossa.ErrorCode(err) != glossa.ENOTFOUND {
		return err
	}
	if orgID != 0 {
		org, err := s.Orgs.FindOrganizationByID(ctx, orgID)
		if err != nil {
			return err
		}
		target := "/saml/" + org.Slug + "/login"
		if next != "" {
			target += "?next=" + url.QueryEscape(next)
		}
		// Not a redirect: this answers a form, and the IdP it leads to is
		// another origin (see continueTo).
		s.continueTo(w, r, target, "Continuing to your organization's sign-in")
		return nil
	}
	pd := s.newPage(r, nil, "Sign in")
	pd.Error = "No single sign-on is set up for " + strconv.Quote(id) + ". Check the spelling, sign in with your password, or ask your organization's Owner."
	pd.Data = loginData{Next: next, SSO: id}
	s.render(w, r, http.StatusNotFound, "login", pd)
	return nil
}

// handleUILoginSubmit signs in with a password, with the same checks,
// throttling, audit and messages as POST /api/auth/login.
func (s *Server) handleUILoginSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	data := loginData{Email: strings.TrimSpace(f.Get("email")), Org: strings.TrimSpace(f.Get("org")), Next: localPath(f.Get("next"))}
	m, serr := s.passwordSignIn(r.Context(), r, data.Email, f.Get("password"), data.Org)
	if serr != nil {
		if glossa.ErrorCode(serr.err) == glossa.EINTERNAL {
			return serr.err
		}
		serr.setRetryAfter(w)
		pd := s.newPage(r, nil, "Sign in")
		pd.Error = glossa.ErrorMessage(serr.err)
		pd.Data = data
		s.render(w, r, errorStatus(glossa.ErrorCode(serr.err)), "login", pd)
		return nil
	}
	org, err := s.Orgs.FindOrganizationByID(r.Context(), m.OrgID)
	if err != nil {
		return err
	}
	if _, err := s.startSession(w, r, org, m, nil); err != nil {
		return err
	}
	http.Redirect(w, r, afterSignIn(data.Next), http.StatusSeeOther)
	return nil
}

// handleUILogout ends the session server-side, so the old cookie opens
// nothing even if a copy of it survives, and says so on the sign-in page.
func (s *Server) handleUILogout(w http.ResponseWriter, r *http.Request) error {
	// A session from SAML also ends at the IdP (single logout), when the
	// IdP has an SLO endpoint; the local session ends either way.
	idpLogout, err := s.startSingleLogout(w, r)
	if err != nil {
		s.Logger.WarnContext(r.Context(), "single logout failed; signing out here only", "err", err)
		idpLogout = ""
	}
	if err := s.endSession(w, r); err != nil {
		return err
	}
	if idpLogout != "" {
		s.continueTo(w, r, idpLogout, "Signing out at your identity provider")
		return nil
	}
	http.Redirect(w, r, "/user/login?notice=signed-out", http.StatusSeeOther)
	return nil
}

// setupData is the setup form's Data; Closed, when set, replaces the form
// with that explanation.
type setupData struct {
	Token, OrgName, Slug, Email string
	Problems                    []string
	Closed                      string
}

// setupClosed says why the setup link cannot be used, with the status to
// answer, or returns "" when it can: setup exists only while the server has
// no organization, and only for the one token the server printed.
func (s *Server) setupClosed(r *http.Request, token string) (string, int, error) {
	n, err := s.Orgs.CountOrganizations(r.Context())
	if err != nil {
		return "", 0, err
	}
	if n > 0 {
		return "Setup is already done: this server has an organization. Sign in with your account; to create another organization, an operator runs \"glossa org create\" on the server.", http.StatusGone, nil
	}
	if !s.peekSetupToken(token) {
		return "This setup link is not valid: it is mistyped, or it was already used. Copy the exact link the server printed when it started; restarting the server prints a new one.", http.StatusNotFound, nil
	}
	return "", 0, nil
}

// handleUISetupForm shows the first-run form that creates the first
// organization and its Owner.
func (s *Server) handleUISetupForm(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	msg, status, err := s.setupClosed(r, token)
	if err != nil {
		return err
	}
	pd := s.newPage(r, nil, "Set up Glossa")
	if msg != "" {
		pd.Data = setupData{Closed: msg}
		s.render(w, r, status, "setup", pd)
		return nil
	}
	pd.Data = setupData{Token: token}
	s.render(w, r, http.StatusOK, "setup", pd)
	return nil
}

// handleUISetupSubmit creates the first organization and its Owner, signs
// the Owner in and opens the projects page.
//
// Security-sensitive: the token is checked before anything else and taken
// (disarmed) under the server's lock before the organization is created,
// so two submissions racing each other cannot both create one; it is put
// back if creation fails, so that a typo or a clash does not burn it.
func (s *Server) handleUISetupSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	data := setupData{
		Token:   f.Get("token"),
		OrgName: strings.TrimSpace(f.Get("org_name")),
		Slug:    strings.ToLower(strings.TrimSpace(f.Get("slug"))),
		Email:   strings.TrimSpace(f.Get("email")),
	}
	pd := s.newPage(r, nil, "Set up Glossa")
	closed := func() error {
		msg, status, err := s.setupClosed(r, data.Token)
		if err != nil {
			return err
		}
		if msg == "" { // the token was put back meanwhile: ask to retry
			msg, status = "Another setup attempt was running at the same time. Reload the setup link and try again.", http.StatusConflict
		}
		pd.Data = setupData{Closed: msg}
		s.render(w, r, status, "setup", pd)
		return nil
	}
	if msg, _, err := s.setupClosed(r, data.Token); err != nil {
		return err
	} else if msg != "" {
		return closed()
	}

	// Report every problem at once, so the form needs one correction.
	password := f.Get("password")
	for _, err := range []error{
		validateTitle("Organization name", data.OrgName),
		glossa.ValidateSlug(data.Slug),
		glossa.ValidateEmail(data.Email),
		auth.ValidatePassword(password),
	} {
		if err != nil {
			data.Problems = append(data.Problems, glossa.ErrorMessage(err))
		}
	}
	if password != f.Get("password2") {
		data.Problems = append(data.Problems, "The two passwords differ: type the same password twice.")
	}
	if len(data.Problems) > 0 {
		pd.Error = "Fix the problems below and submit again."
		pd.Data = data
		s.render(w, r, http.StatusBadRequest, "setup", pd)
		return nil
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}

	if !s.takeSetupToken(data.Token) {
		return closed()
	}
	org := &glossa.Organization{Title: data.OrgName, Slug: data.Slug}
	owner := &glossa.User{Email: data.Email, PasswordHash: hash}
	// Count again under the taken token: "glossa org create" may have run
	// on the server since the form was shown.
	n, err := s.Orgs.CountOrganizations(r.Context())
	if err == nil && n == 0 {
		err = s.Orgs.CreateOrganization(r.Context(), org, owner)
	} else if err == nil {
		return closed()
	}
	if err != nil {
		s.SetSetupToken(data.Token)
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		pd.Error = glossa.ErrorMessage(err)
		pd.Data = data
		s.render(w, r, errorStatus(glossa.ErrorCode(err)), "setup", pd)
		return nil
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: org.ID, ActorID: owner.ID, ActorEmail: owner.Email, Action: "org.create", Outcome: glossa.OutcomeSuccess,
		TargetType: "organization", TargetID: idString(org.ID), Detail: map[string]any{"slug": org.Slug, "title": org.Title, "via": "setup"}})
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: org.ID, ActorID: owner.ID, ActorEmail: owner.Email, Action: "signin", Outcome: glossa.OutcomeSuccess,
		Detail: map[string]any{"method": "setup"}})
	if _, err := s.startSession(w, r, org, &glossa.Member{User: *owner, Role: glossa.RoleOwner}, nil); err != nil {
		return err
	}
	http.Redirect(w, r, "/projects?notice=setup-done", http.StatusSeeOther)
	return nil
}
