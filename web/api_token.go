package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/authz"
)

// maxTokenLifetime bounds how long a personal token may live.
const maxTokenLifetime = 366 * 24 * time.Hour

// createToken makes a personal API token for the principal and returns the
// stored record and the secret, which is shown this once.
func (s *Server) createToken(r *http.Request, p *glossa.Principal, name string, lifetime time.Duration) (*glossa.APIToken, string, error) {
	if err := authz.Check(p, authz.TokenCreate, authz.Resource{OrgID: p.OrgID, OwnerID: p.UserID}); err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "API token"
	}
	if err := validateTitle("name", name); err != nil {
		return nil, "", err
	}
	if lifetime <= 0 || lifetime > maxTokenLifetime {
		return nil, "", glossa.Errorf(glossa.EINVALID, "A token must expire within 1 to 366 days.")
	}
	exp := s.Now().Add(lifetime)
	t, secret := auth.NewAPIToken(p.OrgID, p.UserID, name, exp)
	if err := s.Tokens.CreateToken(r.Context(), t); err != nil {
		return nil, "", err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "token.create", Outcome: glossa.OutcomeSuccess,
		TargetType: "token", TargetID: idString(t.ID), Detail: map[string]any{"name": name, "expires_at": exp}})
	return t, secret, nil
}

func (s *Server) handleTokenList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	list, err := s.Tokens.FindTokens(r.Context(), p.OrgID, p.UserID)
	if err != nil {
		return err
	}
	if list == nil {
		list = []glossa.APIToken{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// handleTokenCreate creates a token: {"name", "expires_in_days" (default 30)}.
func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	var req struct {
		Name          string `json:"name"`
		ExpiresInDays *int   `json:"expires_in_days"`
	}
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	days := 30
	if req.ExpiresInDays != nil {
		days = *req.ExpiresInDays
	}
	t, secret, err := s.createToken(r, p, req.Name, time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": t.ID, "name": t.Name, "prefix": t.Prefix, "created_at": t.CreatedAt, "expires_at": t.ExpiresAt,
		"token": secret, "note": "Copy this token now: it is shown only once.",
	})
	return nil
}

// handleTokenRevoke revokes one of the caller's tokens.
func (s *Server) handleTokenRevoke(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.revokeToken(r, p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) revokeToken(r *http.Request, p *glossa.Principal, id int64) error {
	if err := s.Tokens.RevokeToken(r.Context(), p.OrgID, p.UserID, id); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "token.revoke", Outcome: glossa.OutcomeSuccess,
		TargetType: "token", TargetID: idString(id)})
	return nil
}

// handleAuditList pages through the organization's audit log, newest
// first: ?action=signin&before=ID&limit=100.
func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.AuditView, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	before, err := queryInt(r, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	events, err := s.Audit.FindAuditEvents(r.Context(), glossa.AuditFilter{OrgID: p.OrgID, Action: r.URL.Query().Get("action"), Before: int64(before), Limit: limit})
	if err != nil {
		return err
	}
	if events == nil {
		events = []glossa.AuditEvent{}
	}
	out := map[string]any{"results": events}
	if len(events) == limit {
		out["next_before"] = events[len(events)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
