package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// Reasons recorded in the audit log for refused password sign-ins. The
// person sees one sentence for all of the first three, so that the sign-in
// form does not tell strangers which emails have accounts.
const (
	reasonUnknownEmail  = "unknown_email"
	reasonWrongPassword = "wrong_password"
	reasonNoPassword    = "no_password"
	reasonDeactivated   = "deactivated"
	reasonThrottled     = "throttled"
	reasonAmbiguous     = "ambiguous_organization"
	reasonSSOEnforced   = "sso_enforced"
)

var errSSOEnforced = glossa.Errorf(glossa.EFORBIDDEN, "Your organization signs in with single sign-on: use \"Continue with SSO\" with your work email. API tokens keep working.")

var errBadCredentials = glossa.Errorf(glossa.EUNAUTHORIZED, "Wrong email or password. Check both and try again.")

// signInError is a refused sign-in: the error to show, the reason for the
// audit log, and how long to wait when throttled.
type signInError struct {
	err        error
	reason     string
	retryAfter time.Duration
}

// setRetryAfter tells a throttled client, API or browser, how many seconds
// to wait; it does nothing for other refusals.
func (e *signInError) setRetryAfter(w http.ResponseWriter) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.retryAfter.Round(time.Second)/time.Second)+1))
	}
}

// passwordSignIn checks an email and password, optionally within one
// organization (by slug). It records every decision in the audit log and
// counts failures per account and per client address.
//
// Security-sensitive: an unknown email costs the same password-hash time as
// a known one, and both get the same message.
func (s *Server) passwordSignIn(ctx context.Context, r *http.Request, email, password, orgSlug string) (*glossa.Member, *signInError) {
	email = strings.ToLower(strings.TrimSpace(email))
	orgSlug = strings.TrimSpace(orgSlug)
	if email == "" || password == "" {
		return nil, &signInError{err: glossa.Errorf(glossa.EINVALID, "Enter your email and password.")}
	}
	addr := s.clientAddr(r)
	// The account key is the email alone: adding the slug would let a
	// guesser reset the count by varying it.
	account := email
	refuse := func(orgID int64, m *glossa.Member, reason string, err error) (*glossa.Member, *signInError) {
		e := &glossa.AuditEvent{OrgID: orgID, Action: "signin", Outcome: glossa.OutcomeFailure, Reason: reason, ActorEmail: email, Detail: map[string]any{"method": "password"}}
		if m != nil {
			e.ActorID = m.ID
		}
		s.audit(ctx, r, e)
		if reason != reasonThrottled && reason != reasonAmbiguous && reason != reasonSSOEnforced {
			if ferr := s.Throttle.Failed(ctx, account, addr); ferr != nil {
				s.Logger.ErrorContext(ctx, "recording failed sign-in", "err", ferr)
			}
		}
		return nil, &signInError{err: err, reason: reason}
	}

	if wait, err := s.Throttle.Allow(ctx, account, addr); err != nil {
		if glossa.ErrorCode(err) != glossa.ETOOMANY {
			return nil, &signInError{err: err}
		}
		_, serr := refuse(0, nil, reasonThrottled, err)
		serr.retryAfter = wait
		return nil, serr
	}

	var candidates []glossa.Member
	if orgSlug != "" {
		org, err := s.Orgs.FindOrganizationBySlug(ctx, orgSlug)
		if err == nil {
			var m *glossa.Member
			m, err = s.Members.FindMemberByEmail(ctx, org.ID, email)
			if err == nil {
				candidates = append(candidates, *m)
			}
		}
		if err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
			return nil, &signInError{err: err}
		}
	} else {
		var err error
		if candidates, err = s.Members.FindMembersByEmail(ctx, email); err != nil {
			return nil, &signInError{err: err}
		}
	}
	if len(candidates) == 0 {
		auth.DummyCheckPassword(password)
		return refuse(0, nil, reasonUnknownEmail, errBadCredentials)
	}

	// The same email may have accounts in several organizations; the
	// password decides which one is meant. Only if it opens more than one
	// must the person name the organization.
	var matched []glossa.Member
	rehash := false
	for _, m := range candidates {
		if m.PasswordHash == "" {
			auth.DummyCheckPassword(password)
			continue
		}
		if ok, stale, _ := auth.CheckPassword(m.PasswordHash, password); ok {
			matched = append(matched, m)
			rehash = stale
		}
	}
	switch {
	case len(matched) == 0:
		m := candidates[0]
		reason := reasonWrongPassword
		if m.PasswordHash == "" {
			reason = reasonNoPassword
		}
		if len(candidates) > 1 {
			return refuse(0, nil, reason, errBadCredentials)
		}
		return refuse(m.OrgID, &m, reason, errBadCredentials)
	case len(matched) > 1:
		return refuse(0, nil, reasonAmbiguous, glossa.Errorf(glossa.EINVALID, "This email and password open accounts in several organizations. Enter the organization's slug too."))
	}
	m := matched[0]
	if !m.Role.Active() {
		return refuse(m.OrgID, &m, reasonDeactivated, glossa.Errorf(glossa.EUNAUTHORIZED, "This account is deactivated. Ask an administrator of your organization to reactivate it."))
	}
	// Once an organization enforces SSO only its Owner may still use a
	// password (the break-glass account). This is checked after the
	// password, so it tells nothing to someone who does not know it.
	if m.Role != glossa.RoleOwner {
		conn, err := s.SSO.FindSAMLConnection(ctx, m.OrgID)
		if err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
			return nil, &signInError{err: err}
		}
		if err == nil && conn.EnforceSSO {
			_, serr := refuse(m.OrgID, &m, reasonSSOEnforced, errSSOEnforced)
			return nil, serr
		}
	}
	if rehash {
		// The hash was made with weaker parameters than today's: upgrade it
		// now, while the password is at hand.
		if h, err := auth.HashPassword(password); err == nil {
			if err := s.Members.SetPassword(ctx, m.OrgID, m.ID, h); err != nil {
				s.Logger.WarnContext(ctx, "upgrading a password hash failed", "err", err)
			}
		}
	}
	if err := s.Throttle.Succeeded(ctx, account); err != nil {
		s.Logger.ErrorContext(ctx, "clearing failed sign-ins", "err", err)
	}
	s.audit(ctx, r, &glossa.AuditEvent{OrgID: m.OrgID, ActorID: m.ID, ActorEmail: m.Email, Action: "signin", Outcome: glossa.OutcomeSuccess, Detail: map[string]any{"method": "password"}})
	return &m, nil
}

// startSession creates a fresh session for m, a member of org, ending the
// request's old one if any (a new ID at every sign-in defeats session
// fixation), and sets the cookie. sso is the identity of a SAML sign-in,
// nil for a password: its IdP session is recorded with the session, for
// single logout, and the session ends at the organization's max age or at
// the assertion's SessionNotOnOrAfter, whichever comes first. It returns
// the new session.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, org *glossa.Organization, m *glossa.Member, sso *glossa.SAMLIdentity) (*glossa.Session, error) {
	ctx := r.Context()
	if old := auth.SessionIDFromRequest(r, s.secure(r)); old != "" {
		if err := s.Sessions.DeleteSession(ctx, auth.HashSecret(old)); err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
			return nil, err
		}
	}
	id := auth.NewSessionID()
	now := s.Now()
	sess := &glossa.Session{
		IDHash: auth.HashSecret(id), OrgID: m.OrgID, UserID: m.ID, CSRFToken: auth.NewCSRFToken(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(org.SessionMaxAge), Method: "password",
	}
	if sso != nil {
		sess.Method = "saml"
		sess.IdP = &glossa.SAMLSession{IdPEntityID: sso.IdPEntityID, NameID: sso.NameID, NameIDFormat: sso.NameIDFormat, SessionIndex: sso.SessionIndex}
		// A session never outlives what the IdP allowed.
		if end := sso.SessionNotOnOrAfter; end != nil && end.Before(sess.ExpiresAt) {
			sess.ExpiresAt = *end
		}
	}
	if err := s.Sessions.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	http.SetCookie(w, auth.SessionCookie(id, s.secure(r), sess.ExpiresAt.Sub(now)))
	return sess, nil
}

// endSession ends the request's session server-side and clears the cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if id := auth.SessionIDFromRequest(r, s.secure(r)); id != "" {
		if err := s.Sessions.DeleteSession(ctx, auth.HashSecret(id)); err != nil && glossa.ErrorCode(err) != glossa.ENOTFOUND {
			return err
		}
	}
	http.SetCookie(w, auth.ClearSessionCookie(s.secure(r)))
	if p := glossa.PrincipalFromContext(ctx); p != nil {
		// Signing out also forgets the cloud credentials the person's
		// sign-in obtained: a credential kept is a credential that can
		// leak, and the next sign-in obtains fresh ones.
		if s.Storages != nil {
			if err := s.Storages.DeletePersonCredentials(ctx, p.OrgID, p.UserID); err != nil {
				return err
			}
		}
		s.audit(ctx, r, &glossa.AuditEvent{OrgID: p.OrgID, ActorID: p.UserID, ActorEmail: p.Email, Action: "signout", Outcome: glossa.OutcomeSuccess})
	}
	return nil
}

// handleAPILogin is the JSON password sign-in. It sets the session cookie
// and returns the CSRF token that unsafe requests with that cookie must
// send in X-CSRF-Token.
func (s *Server) handleAPILogin(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Org      string `json:"org"`
	}
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	m, serr := s.passwordSignIn(r.Context(), r, req.Email, req.Password, req.Org)
	if serr != nil {
		serr.setRetryAfter(w)
		return serr.err
	}
	org, err := s.Orgs.FindOrganizationByID(r.Context(), m.OrgID)
	if err != nil {
		return err
	}
	sess, err := s.startSession(w, r, org, m, nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user":       whoamiView(m, org),
		"csrf_token": sess.CSRFToken,
		"expires_at": sess.ExpiresAt,
	})
	return nil
}

// handleAPILogout ends the session.
func (s *Server) handleAPILogout(w http.ResponseWriter, r *http.Request) error {
	if err := s.endSession(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleWhoami returns the signed-in person, in Label Studio's shape plus
// the organization and role.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	m, err := s.Members.FindMemberByID(r.Context(), p.OrgID, p.UserID)
	if err != nil {
		return err
	}
	org, err := s.Orgs.FindOrganizationByID(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	v := whoamiView(m, org)
	if sess := sessionFromContext(r.Context()); sess != nil {
		v["csrf_token"] = sess.CSRFToken
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func whoamiView(m *glossa.Member, org *glossa.Organization) map[string]any {
	return map[string]any{
		"id":                  m.ID,
		"email":               m.Email,
		"username":            m.Email,
		"first_name":          m.FirstName,
		"last_name":           m.LastName,
		"initials":            initials(m),
		"date_joined":         m.CreatedAt,
		"active_organization": org.ID,
		"organization":        map[string]any{"id": org.ID, "slug": org.Slug, "title": org.Title},
		"role":                m.Role,
		"role_code":           m.Role.Code(),
	}
}

func initials(m *glossa.Member) string {
	first := func(s string) string {
		for _, r := range s {
			return strings.ToUpper(string(r))
		}
		return ""
	}
	if in := first(m.FirstName) + first(m.LastName); in != "" {
		return in
	}
	return first(m.Email)
}

// audit appends an event, filling in when, from where and which request.
// A failure to write the audit log is logged loudly; the decision it
// records has already been made.
func (s *Server) audit(ctx context.Context, r *http.Request, e *glossa.AuditEvent) {
	e.At = s.Now()
	e.IP = s.clientAddr(r)
	e.UserAgent = truncate(r.UserAgent(), 256)
	e.RequestID = glossa.RequestIDFromContext(ctx)
	if p := glossa.PrincipalFromContext(ctx); p != nil && e.ActorID == 0 {
		e.ActorID, e.ActorEmail = p.UserID, p.Email
	}
	if err := s.Audit.AppendAudit(ctx, e); err != nil {
		s.Logger.ErrorContext(ctx, "writing the audit log failed", "action", e.Action, "outcome", e.Outcome, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
