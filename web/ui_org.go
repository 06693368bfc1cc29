package web

// The organization's members and activity log, and the person's API tokens.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// memberRow is one line of the members table; Editable says whether the
// viewer may change this member's role (never the Owner's, never their own).
type memberRow struct {
	glossa.Member
	Editable bool
	You      bool
}

// memberForm holds what was typed into the add-member form. The password
// is never sent back.
type memberForm struct{ Email, Role string }

type membersData struct {
	Members   []memberRow
	Total     int
	CanChange bool
	CanInvite bool
	Form      memberForm
	PrevPage  string
	NextPage  string
}

// membersPerPage is how many members the members page lists at once.
const membersPerPage = 100

func (s *Server) handleUIMemberList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	return s.renderMembers(w, r, p, http.StatusOK, memberForm{Role: string(glossa.RoleAnnotator)}, "")
}

// renderMembers shows the members page with errMsg (if any) above it.
func (s *Server) renderMembers(w http.ResponseWriter, r *http.Request, p *glossa.Principal, status int, form memberForm, errMsg string) error {
	org := authz.Resource{OrgID: p.OrgID}
	if err := authz.Check(p, authz.MembersView, org); err != nil {
		return err
	}
	page, err := queryInt(r, "page", 1, 1, 1_000_000)
	if err != nil {
		return err
	}
	members, total, err := s.Members.FindMembers(r.Context(), glossa.MemberFilter{OrgID: p.OrgID, Offset: (page - 1) * membersPerPage, Limit: membersPerPage})
	if err != nil {
		return err
	}
	data := membersData{
		Total:     total,
		CanChange: authz.Can(p, authz.MembersChangeRole, org) == authz.Allow,
		CanInvite: authz.Can(p, authz.MembersInvite, org) == authz.Allow,
		Form:      form,
	}
	for _, m := range members {
		data.Members = append(data.Members, memberRow{Member: m, You: m.ID == p.UserID,
			Editable: data.CanChange && m.Role != glossa.RoleOwner && m.ID != p.UserID})
	}
	if page > 1 {
		data.PrevPage = "/organization/members?page=" + strconv.Itoa(page-1)
	}
	if page*membersPerPage < total {
		data.NextPage = "/organization/members?page=" + strconv.Itoa(page+1)
	}
	pd := s.newPage(r, p, "Members")
	pd.Error = errMsg
	pd.Data = data
	s.render(w, r, status, "members", pd)
	return nil
}

// handleUIMemberRoleUpdate saves the role chosen for one member. The rules
// (the Owner is fixed, nobody changes their own role) and the audit record
// are changeRole's, shared with the API.
func (s *Server) handleUIMemberRoleUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.MembersChangeRole, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	m, err := s.memberFromPath(r, p.OrgID)
	if err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	role, err := glossa.ParseRole(r.PostForm.Get("role"))
	if err == nil {
		_, err = s.changeRole(r, p, m, role)
	}
	if err != nil {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return s.renderMembers(w, r, p, errorStatus(glossa.ErrorCode(err)), memberForm{Role: string(glossa.RoleAnnotator)},
			m.Email+": "+glossa.ErrorMessage(err))
	}
	http.Redirect(w, r, "/organization/members?notice=role-changed", http.StatusSeeOther)
	return nil
}

// handleUIMemberCreate adds a member with a role and an initial password.
func (s *Server) handleUIMemberCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.MembersInvite, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	req := newMember{Email: f.Get("email"), Role: f.Get("role"), Password: f.Get("password")}
	if _, err := s.addMember(r, p.OrgID, &req); err != nil {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return s.renderMembers(w, r, p, errorStatus(glossa.ErrorCode(err)), memberForm{Email: req.Email, Role: req.Role}, glossa.ErrorMessage(err))
	}
	http.Redirect(w, r, "/organization/members?notice=member-added", http.StatusSeeOther)
	return nil
}

// auditRow is one line of the activity log, its detail flattened to text.
type auditRow struct {
	glossa.AuditEvent
	DetailText string
}

// auditPageSize is how many events the activity log page shows.
const auditPageSize = 200

// handleUIAuditList shows the organization's latest events.
func (s *Server) handleUIAuditList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.AuditView, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	events, err := s.Audit.FindAuditEvents(r.Context(), glossa.AuditFilter{OrgID: p.OrgID, Limit: auditPageSize})
	if err != nil {
		return err
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
		rows[i] = auditRow{AuditEvent: e}
		if len(e.Detail) > 0 {
			if b, err := json.Marshal(e.Detail); err == nil {
				rows[i].DetailText = preview(string(b), 300)
			}
		}
	}
	pd := s.newPage(r, p, "Activity log")
	pd.Data = rows
	s.render(w, r, http.StatusOK, "audit", pd)
	return nil
}

// tokenRow is one line of the tokens table.
type tokenRow struct {
	glossa.APIToken
	Status string // Active, Expired or Revoked
}

// newToken is a token just created, shown this once.
type newToken struct {
	Name, Secret string
	ExpiresAt    *time.Time
}

type tokenForm struct{ Name, Days string }

type tokensData struct {
	Tokens    []tokenRow
	CanCreate bool
	Created   *newToken
	Form      tokenForm
}

func (s *Server) handleUITokenList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	return s.renderTokens(w, r, p, http.StatusOK, nil, tokenForm{Days: "30"}, "")
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, p *glossa.Principal, status int, created *newToken, form tokenForm, errMsg string) error {
	list, err := s.Tokens.FindTokens(r.Context(), p.OrgID, p.UserID)
	if err != nil {
		return err
	}
	now := s.Now()
	data := tokensData{Created: created, Form: form,
		CanCreate: authz.Can(p, authz.TokenCreate, authz.Resource{OrgID: p.OrgID, OwnerID: p.UserID}) == authz.Allow}
	for _, t := range list {
		row := tokenRow{APIToken: t, Status: "Active"}
		switch {
		case t.RevokedAt != nil:
			row.Status = "Revoked"
		case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
			row.Status = "Expired"
		}
		data.Tokens = append(data.Tokens, row)
	}
	pd := s.newPage(r, p, "API tokens")
	pd.Error = errMsg
	pd.Data = data
	s.render(w, r, status, "tokens", pd)
	return nil
}

// handleUITokenCreate creates a token and shows its secret this once. The
// page is the response to the POST (not a redirect) so that the secret is
// never in a URL, a cookie or the server's memory afterwards.
func (s *Server) handleUITokenCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	form := tokenForm{Name: r.PostForm.Get("name"), Days: strings.TrimSpace(r.PostForm.Get("expires_in_days"))}
	fail := func(err error) error {
		if glossa.ErrorCode(err) == glossa.EINTERNAL {
			return err
		}
		return s.renderTokens(w, r, p, errorStatus(glossa.ErrorCode(err)), nil, form, glossa.ErrorMessage(err))
	}
	days := 30
	if form.Days != "" {
		n, err := strconv.Atoi(form.Days)
		if err != nil {
			return fail(glossa.Errorf(glossa.EINVALID, "Expires in must be a whole number of days, from 1 to 366."))
		}
		days = n
	}
	t, secret, err := s.createToken(r, p, form.Name, time.Duration(days)*24*time.Hour)
	if err != nil {
		return fail(err)
	}
	return s.renderTokens(w, r, p, http.StatusOK, &newToken{Name: t.Name, Secret: secret, ExpiresAt: t.ExpiresAt}, tokenForm{Days: "30"}, "")
}

// handleUITokenRevoke revokes one of the person's own tokens.
func (s *Server) handleUITokenRevoke(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.revokeToken(r, p, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/tokens?notice=token-revoked", http.StatusSeeOther)
	return nil
}
