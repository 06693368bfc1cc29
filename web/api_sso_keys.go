package web

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// spKeyView is an SP key as the API shows it: never the private key.
type spKeyView struct {
	ID          int64  `json:"id"`
	Purpose     string `json:"purpose"`
	Current     bool   `json:"current"`
	Fingerprint string `json:"sha256_fingerprint"`
	NotBefore   string `json:"not_before"`
	NotAfter    string `json:"not_after"`
	CreatedAt   string `json:"created_at"`
}

// spKeyViews lists the organization's live SP keys; the newest of each
// purpose is the current one.
func (s *Server) spKeyViews(r *http.Request, orgID int64) ([]spKeyView, error) {
	keys, err := s.SSO.FindSPKeys(r.Context(), orgID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []spKeyView{}
	for _, k := range keys {
		v := spKeyView{ID: k.ID, Purpose: k.Purpose, Current: !seen[k.Purpose], CreatedAt: k.CreatedAt.Format("2006-01-02T15:04:05Z")}
		seen[k.Purpose] = true
		if c := pemCertificate(k.CertPEM); c != nil {
			v.Fingerprint = fingerprint(c.Raw)
			v.NotBefore = c.NotBefore.UTC().Format(time.DateOnly)
			v.NotAfter = c.NotAfter.UTC().Format(time.DateOnly)
		}
		out = append(out, v)
	}
	return out, nil
}

// pemCertificate returns the first certificate of a PEM text, or nil if
// it holds none that parses.
func pemCertificate(text string) *x509.Certificate {
	rest := []byte(text)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil
		}
		if b.Type == "CERTIFICATE" {
			c, _ := x509.ParseCertificate(b.Bytes)
			return c
		}
	}
}

// fingerprint is the SHA-256 fingerprint of a DER certificate in hex, as
// IdPs show the certificates they hold.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// handleSPKeyList lists the SP keys published in the metadata.
func (s *Server) handleSPKeyList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	keys, err := s.spKeyViews(r, p.OrgID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keys)
	return nil
}

// handleSPKeyRotate adds new SP key pairs. The old ones stay published and
// keep decrypting: retire them once the IdP has the new metadata.
func (s *Server) handleSPKeyRotate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := s.rotateSPKeys(r, p); err != nil {
		return err
	}
	keys, err := s.spKeyViews(r, p.OrgID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, keys)
	return nil
}

// rotateSPKeys adds a new signing and a new encryption key pair to the
// organization's, audited. The API and the settings page both rotate
// through here.
func (s *Server) rotateSPKeys(r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	if s.SAML == nil {
		return glossa.NotFound("SSO connection")
	}
	org, err := s.Orgs.FindOrganizationByID(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	if err := s.SAML.RotateKeys(r.Context(), org); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "sso.keys.rotate", Outcome: glossa.OutcomeSuccess, TargetType: "organization", TargetID: idString(p.OrgID)})
	return nil
}

// handleSPKeyRetire retires an old SP key. The current key of a purpose
// cannot be retired: rotate first.
func (s *Server) handleSPKeyRetire(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	if err := authz.Check(p, authz.SSOManage, authz.Resource{OrgID: p.OrgID}); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	live, err := s.spKeyViews(r, p.OrgID)
	if err != nil {
		return err
	}
	if err := s.retireSPKeys(r, p, live, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// retireSPKeys retires old SP keys, each audited: they leave the metadata
// and no longer decrypt. If any is the current key of its purpose (by
// live, the organization's keys as spKeyViews lists them), none is
// retired. The API and the settings page both retire through here, once
// they have checked that p may manage SSO (authz.SSOManage).
func (s *Server) retireSPKeys(r *http.Request, p *glossa.Principal, live []spKeyView, ids ...int64) error {
	for _, id := range ids {
		for _, k := range live {
			if k.ID == id && k.Current {
				return glossa.Errorf(glossa.ECONFLICT, "Key %d is the current %s key. Rotate first, give the IdP the new metadata, then retire the old key.", id, k.Purpose)
			}
		}
	}
	for _, id := range ids {
		if err := s.SSO.RetireSPKey(r.Context(), p.OrgID, id, s.Now()); err != nil {
			return err
		}
		s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "sso.keys.retire", Outcome: glossa.OutcomeSuccess, TargetType: "sp_key", TargetID: idString(id)})
	}
	return nil
}
