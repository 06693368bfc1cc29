package web

// The page that adds a cloud storage to a project: the form, and the
// values an AWS administrator pastes into IAM and the IdP for the
// per-person modes.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// storageForm is the storage page's form, as typed.
type storageForm struct {
	Type                                          glossa.StorageType
	Title, Bucket, Prefix, RegexFilter            string
	UseBlobURLs, RecursiveScan, Presign           bool
	PresignTTL                                    string
	RegionName, S3Endpoint, STSEndpoint, KMSKeyID string
	AuthMode                                      glossa.AuthMode
	AccessKeyID                                   string
	RoleARN, ExternalID, PrincipalARN             string
	BrokerRoles                                   string // one "role ARN, IdP group" per line
	SessionDuration                               string
}

// storagePageData is what the storage page shows.
type storagePageData struct {
	Project *glossa.Project
	Form    storageForm
	Modes   []option
	// What to paste into IAM and the IdP for saml_federated.
	ACSURL, EntityID, TrustPolicy string
}

// defaultStorageForm is a new storage's form: Label Studio's defaults.
func defaultStorageForm(typ glossa.StorageType) storageForm {
	return storageForm{Type: typ, Presign: true, PresignTTL: strconv.Itoa(glossa.DefaultPresignTTL), RecursiveScan: true,
		AuthMode: glossa.AuthSAMLFederated, SessionDuration: strconv.Itoa(glossa.DefaultSessionDuration)}
}

// handleUIStorageNew shows the form; ?type=target for a target storage.
func (s *Server) handleUIStorageNew(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.StorageManage)
	if err != nil {
		return err
	}
	typ := glossa.StorageSource
	if r.URL.Query().Get("type") == string(glossa.StorageTarget) {
		typ = glossa.StorageTarget
	}
	s.renderStorageForm(w, r, p, pr, http.StatusOK, defaultStorageForm(typ), "")
	return nil
}

// handleUIStorageCreate creates the storage the form describes, or shows
// the form again with what to fix.
func (s *Server) handleUIStorageCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	pr, err := s.projectFromPath(r, p, authz.StorageManage)
	if err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	form := storageForm{
		Type: glossa.StorageSource, Title: f.Get("title"), Bucket: f.Get("bucket"), Prefix: f.Get("prefix"),
		RegexFilter: f.Get("regex_filter"), UseBlobURLs: f.Get("use_blob_urls") == "on", RecursiveScan: f.Get("recursive_scan") == "on",
		Presign: f.Get("presign") == "on", PresignTTL: f.Get("presign_ttl"), RegionName: f.Get("region_name"),
		S3Endpoint: f.Get("s3_endpoint"), STSEndpoint: f.Get("sts_endpoint"), KMSKeyID: f.Get("aws_sse_kms_key_id"),
		AuthMode: glossa.AuthMode(f.Get("auth_mode")), AccessKeyID: f.Get("aws_access_key_id"), RoleARN: f.Get("role_arn"),
		ExternalID: f.Get("external_id"), PrincipalARN: f.Get("principal_arn"), BrokerRoles: f.Get("broker_roles"),
		SessionDuration: f.Get("session_duration"),
	}
	if f.Get("type") == string(glossa.StorageTarget) {
		form.Type = glossa.StorageTarget
	}
	fail := func(err error) error {
		if code := glossa.ErrorCode(err); code == glossa.EINTERNAL || code == glossa.ENOTFOUND || code == glossa.EFORBIDDEN {
			return err
		}
		s.renderStorageForm(w, r, p, pr, errorStatus(glossa.ErrorCode(err)), form, glossa.ErrorMessage(err))
		return nil
	}
	req, err := form.request(pr.ID, f.Get("aws_secret_access_key"), f.Get("aws_session_token"))
	if err != nil {
		return fail(err)
	}
	st, err := s.buildStorage(r, p, form.Type, req)
	if err != nil {
		return fail(err)
	}
	if err := s.createStorage(r, p, st); err != nil {
		return fail(err)
	}
	http.Redirect(w, r, "/projects/"+idString(pr.ID)+"?notice=storage-created#storages", http.StatusSeeOther)
	return nil
}

// request turns the form into the API's request, reading numbers and the
// broker role lines.
func (f *storageForm) request(projectID int64, secretKey, sessionToken string) (*storageRequest, error) {
	var problems ssoProblems
	number := func(name, v string) *int {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			problems = append(problems, name+" must be a whole number.")
			return nil
		}
		return &n
	}
	req := &storageRequest{
		Project: &projectID, Title: &f.Title, Bucket: &f.Bucket, Prefix: &f.Prefix, RegexFilter: &f.RegexFilter,
		UseBlobURLs: &f.UseBlobURLs, RecursiveScan: &f.RecursiveScan, Presign: &f.Presign,
		PresignTTL: number("Presign TTL", f.PresignTTL), SessionDuration: number("Session duration", f.SessionDuration),
		RegionName: &f.RegionName, S3Endpoint: &f.S3Endpoint, STSEndpoint: &f.STSEndpoint, SSEKMSKeyID: &f.KMSKeyID,
		AuthMode: &f.AuthMode, RoleARN: &f.RoleARN, ExternalID: &f.ExternalID, PrincipalARN: &f.PrincipalARN,
	}
	if f.AuthMode == glossa.AuthStatic {
		req.AccessKeyID = &f.AccessKeyID
		if secretKey != "" {
			req.SecretAccessKey = &secretKey
		}
		if sessionToken != "" {
			req.SessionToken = &sessionToken
		}
	}
	if f.AuthMode == glossa.AuthBroker {
		var roles []glossa.GroupMapping
		for i, line := range strings.Split(f.BrokerRoles, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			role, group, ok := strings.Cut(line, ",")
			if !ok {
				problems = append(problems, "Broker roles, line "+strconv.Itoa(i+1)+": write the role ARN, a comma, then the IdP group.")
				continue
			}
			roles = append(roles, glossa.GroupMapping{Name: strings.TrimSpace(role), Group: strings.TrimSpace(group)})
		}
		req.BrokerRoles = &roles
	}
	if len(problems) > 0 {
		return nil, glossa.Errorf(glossa.EINVALID, "%s", problems.Error())
	}
	return req, nil
}

func (s *Server) renderStorageForm(w http.ResponseWriter, r *http.Request, p *glossa.Principal, pr *glossa.Project, status int, form storageForm, errMsg string) {
	sp := s.spEndpointsFor(p.OrgSlug)
	data := storagePageData{Project: pr, Form: form, ACSURL: sp.ACSURL, EntityID: sp.EntityID, TrustPolicy: trustPolicy(form.PrincipalARN, sp.ACSURL)}
	for _, m := range []struct {
		mode  glossa.AuthMode
		label string
	}{
		{glossa.AuthSAMLFederated, "Each person's own role, from their SAML sign-in (AssumeRoleWithSAML)"},
		{glossa.AuthBroker, "Each person's role by IdP group, assumed by Glossa (broker)"},
		{glossa.AuthAssumeRole, "One role for everyone, assumed by Glossa"},
		{glossa.AuthStatic, "One access key for everyone"},
	} {
		data.Modes = append(data.Modes, option{Value: string(m.mode), Label: m.label, Selected: m.mode == form.AuthMode})
	}
	title := "Add a source storage"
	if form.Type == glossa.StorageTarget {
		title = "Add a target storage"
	}
	pd := s.newPage(r, p, title)
	pd.Error, pd.Data = errMsg, data
	s.render(w, r, status, "storage_new", pd)
}

// trustPolicy is the trust policy of a role that people of the IAM SAML
// provider assume with the responses Glossa receives: SAML:aud is the
// Recipient of the assertion, which is Glossa's ACS URL.
func trustPolicy(principalARN, acsURL string) string {
	if principalARN == "" {
		principalARN = "arn:aws:iam::ACCOUNT:saml-provider/NAME"
	}
	policy := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]string{"Federated": principalARN},
			"Action":    "sts:AssumeRoleWithSAML",
			"Condition": map[string]any{"StringEquals": map[string]string{"SAML:aud": acsURL}},
		}},
	}
	b, _ := json.MarshalIndent(policy, "", "  ")
	return string(b)
}
