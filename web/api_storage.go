package web

// Cloud storages: Label Studio's /api/storages/s3 (source) and
// /api/storages/export/s3 (target) endpoints, their sync jobs, and the
// task media they serve.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// StorageAccess is what the web layer needs from the storage connector and
// the credential broker; cmd/glossa wires them. Every method that touches a
// bucket acts for userID: in per-person modes with that person's own
// credentials.
type StorageAccess interface {
	// SealSecret seals a static secret access key and session token into
	// s.SealedSecret.
	SealSecret(s *glossa.Storage, secretKey, sessionToken string) error
	// CheckAccess says, without calling the cloud, whether userID has usable
	// credentials for s: nil, or an EREAUTH or EFORBIDDEN error whose
	// message says why and what to do.
	CheckAccess(ctx context.Context, s *glossa.Storage, userID int64) error
	// Validate checks the settings with real calls and explains what is wrong.
	Validate(ctx context.Context, s *glossa.Storage, userID int64) error
	// ReadableFolders returns the folders of s that userID may read.
	ReadableFolders(ctx context.Context, s *glossa.Storage, userID int64, folders []string) ([]string, error)
	// MediaURL presigns a GET of key, valid no longer than the credentials.
	MediaURL(ctx context.Context, s *glossa.Storage, userID int64, key string) (string, error)
	// OpenMedia streams key (proxy mode), honouring a Range header.
	OpenMedia(ctx context.Context, s *glossa.Storage, userID int64, key, rangeHeader string) (*Media, error)
	// Kick wakes the background worker after a job or an export write was queued.
	Kick()
}

// Media is an object streamed through Glossa.
type Media struct {
	Body          io.ReadCloser
	ContentType   string
	ContentLength int64
	ContentRange  string
	ETag          string
	Partial       bool
}

// storageRequest is the body of a storage create or update: Label
// Studio's S3 fields and Glossa's credential modes. Absent fields keep
// their value on update.
type storageRequest struct {
	Project          *int64                 `json:"project"`
	Title            *string                `json:"title"`
	Description      *string                `json:"description"`
	Bucket           *string                `json:"bucket"`
	Prefix           *string                `json:"prefix"`
	RegexFilter      *string                `json:"regex_filter"`
	UseBlobURLs      *bool                  `json:"use_blob_urls"`
	RecursiveScan    *bool                  `json:"recursive_scan"`
	Presign          *bool                  `json:"presign"`
	PresignTTL       *int                   `json:"presign_ttl"`
	RegionName       *string                `json:"region_name"`
	S3Endpoint       *string                `json:"s3_endpoint"`
	STSEndpoint      *string                `json:"sts_endpoint"`
	SSEKMSKeyID      *string                `json:"aws_sse_kms_key_id"`
	CanDeleteObjects *bool                  `json:"can_delete_objects"`
	AuthMode         *glossa.AuthMode       `json:"auth_mode"`
	RoleARN          *string                `json:"role_arn"`
	ExternalID       *string                `json:"external_id"`
	PrincipalARN     *string                `json:"principal_arn"`
	BrokerRoles      *[]glossa.GroupMapping `json:"broker_roles"`
	SessionDuration  *int                   `json:"session_duration"`
	AccessKeyID      *string                `json:"aws_access_key_id"`
	SecretAccessKey  *string                `json:"aws_secret_access_key"`
	SessionToken     *string                `json:"aws_session_token"`
	// Accepted and ignored, as Label Studio's clients send them.
	Type           *string `json:"type"`
	Synchronizable *bool   `json:"synchronizable"`
	ID             *int64  `json:"id"`
}

// apply copies the fields present in req onto st.
func (req *storageRequest) apply(st *glossa.Storage) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&st.Title, req.Title)
	set(&st.Description, req.Description)
	set(&st.Bucket, req.Bucket)
	if req.Prefix != nil {
		st.Prefix = strings.TrimLeft(*req.Prefix, "/") // S3 keys have no leading slash
	}
	if req.RegexFilter != nil {
		st.RegexFilter = *req.RegexFilter
	}
	set(&st.RegionName, req.RegionName)
	set(&st.S3Endpoint, req.S3Endpoint)
	set(&st.STSEndpoint, req.STSEndpoint)
	set(&st.SSEKMSKeyID, req.SSEKMSKeyID)
	set(&st.RoleARN, req.RoleARN)
	set(&st.ExternalID, req.ExternalID)
	set(&st.PrincipalARN, req.PrincipalARN)
	set(&st.AccessKeyID, req.AccessKeyID)
	for _, b := range []struct {
		dst *bool
		src *bool
	}{{&st.UseBlobURLs, req.UseBlobURLs}, {&st.RecursiveScan, req.RecursiveScan}, {&st.Presign, req.Presign}, {&st.CanDeleteObjects, req.CanDeleteObjects}} {
		if b.src != nil {
			*b.dst = *b.src
		}
	}
	if req.PresignTTL != nil {
		st.PresignTTL = *req.PresignTTL
	}
	if req.SessionDuration != nil {
		st.SessionDuration = *req.SessionDuration
	}
	if req.AuthMode != nil {
		st.AuthMode = *req.AuthMode
	}
	if req.BrokerRoles != nil {
		st.BrokerRoles = *req.BrokerRoles
	}
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionName = regexp.MustCompile(`^[a-z0-9-]{0,32}$`)
)

// validateStorage reports every problem of a storage's settings at once,
// each as a sentence that says what to enter instead.
func validateStorage(st *glossa.Storage, hasSecret bool) error {
	var problems ssoProblems
	add := func(msg string) { problems = append(problems, msg) }
	if !bucketName.MatchString(st.Bucket) {
		add("bucket must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens.")
	}
	if len(st.Prefix) > 1024 {
		add("prefix must be at most 1024 characters.")
	}
	if st.RegexFilter != "" {
		if _, err := regexp.Compile(st.RegexFilter); err != nil {
			add("regex_filter is not a valid regular expression (RE2 syntax).")
		}
	}
	if st.PresignTTL < 1 || st.PresignTTL > 32767 {
		add("presign_ttl must be a number of minutes from 1 to 32767.")
	}
	if st.SessionDuration < 900 || st.SessionDuration > 43200 {
		add("session_duration must be a number of seconds from 900 to 43200 (STS's range).")
	}
	if !regionName.MatchString(st.RegionName) {
		add("region_name must be an AWS region such as eu-west-1.")
	}
	for name, v := range map[string]string{"s3_endpoint": st.S3Endpoint, "sts_endpoint": st.STSEndpoint} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			add(name + " must be an http or https URL such as https://s3.eu-west-1.amazonaws.com.")
		}
	}
	switch st.AuthMode {
	case glossa.AuthStatic:
		if st.AccessKeyID == "" || !hasSecret {
			add("auth_mode static needs aws_access_key_id and aws_secret_access_key.")
		}
	case glossa.AuthAssumeRole:
		if !isARN(st.RoleARN, ":role/") {
			add("auth_mode assume_role needs role_arn, the ARN of the role Glossa assumes (arn:aws:iam::ACCOUNT:role/NAME).")
		}
		if st.ExternalID != "" && (len(st.ExternalID) < 2 || len(st.ExternalID) > 1224) {
			add("external_id must be 2 to 1224 characters.")
		}
	case glossa.AuthSAMLFederated:
		// Without role_arn each person uses the role their assertion
		// carries for the provider, so one storage serves people of
		// different roles.
		if st.RoleARN != "" && !isARN(st.RoleARN, ":role/") {
			add("role_arn must be a role ARN (arn:aws:iam::ACCOUNT:role/NAME), or empty to use the role each person's IdP asserts.")
		}
		if !isARN(st.PrincipalARN, ":saml-provider/") {
			add("auth_mode saml_federated needs principal_arn, the IAM SAML provider (arn:aws:iam::ACCOUNT:saml-provider/NAME).")
		}
	case glossa.AuthBroker:
		if len(st.BrokerRoles) == 0 {
			add(`auth_mode broker needs broker_roles: [["arn:aws:iam::ACCOUNT:role/NAME", "IdP group"], ...].`)
		}
		for _, m := range st.BrokerRoles {
			if !isARN(m.Name, ":role/") || strings.TrimSpace(m.Group) == "" {
				add(`Each broker_roles entry is ["role ARN", "IdP group"], with a role ARN such as arn:aws:iam::ACCOUNT:role/NAME.`)
				break
			}
		}
	default:
		add("auth_mode must be static, assume_role, saml_federated or broker.")
	}
	if len(problems) > 0 {
		return glossa.Errorf(glossa.EINVALID, "%s", problems.Error())
	}
	return nil
}

// isARN reports whether v looks like an ARN of the kind marked by infix
// (":role/", ":saml-provider/"), in any AWS partition.
func isARN(v, infix string) bool {
	return len(v) >= 20 && len(v) <= 2048 && strings.HasPrefix(v, "arn:aws") && strings.Contains(v, infix)
}

// storageTypeOf tells from the path whether a request is about source or
// target storages.
func storageTypeOf(r *http.Request) glossa.StorageType {
	if strings.HasPrefix(r.URL.Path, "/api/storages/export/") {
		return glossa.StorageTarget
	}
	return glossa.StorageSource
}

// storageFromPath loads storage {id} of the path's type in the caller's
// organization and checks that the caller may manage its project.
func (s *Server) storageFromPath(r *http.Request, p *glossa.Principal) (*glossa.Storage, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	st, err := s.Storages.FindStorageByID(r.Context(), p.OrgID, id)
	if err != nil {
		return nil, err
	}
	if st.Type != storageTypeOf(r) {
		return nil, glossa.NotFound("Storage")
	}
	if _, err := s.projectByID(r, p, st.ProjectID, authz.StorageManage); err != nil {
		return nil, err
	}
	return st, nil
}

// storageView is a storage as the API shows it: its fields, Label Studio's
// "type", the running or last job's progress, a target's outbox counts and,
// for per-person modes, whether the caller's own credentials work.
func (s *Server) storageView(ctx context.Context, p *glossa.Principal, st *glossa.Storage) map[string]any {
	v := map[string]any{
		"id": st.ID, "type": "s3", "project": st.ProjectID, "title": st.Title, "description": st.Description,
		"bucket": st.Bucket, "prefix": st.Prefix, "regex_filter": st.RegexFilter, "use_blob_urls": st.UseBlobURLs,
		"recursive_scan": st.RecursiveScan, "presign": st.Presign, "presign_ttl": st.PresignTTL,
		"region_name": st.RegionName, "s3_endpoint": st.S3Endpoint, "sts_endpoint": st.STSEndpoint,
		"aws_sse_kms_key_id": st.SSEKMSKeyID, "can_delete_objects": st.CanDeleteObjects,
		"auth_mode": st.AuthMode, "role_arn": st.RoleARN, "external_id": st.ExternalID, "principal_arn": st.PrincipalARN,
		"broker_roles": st.BrokerRoles, "session_duration": st.SessionDuration,
		"aws_access_key_id": st.AccessKeyID, "aws_secret_access_key_set": len(st.SealedSecret) > 0,
		"status": st.Status, "last_sync": st.LastSync, "last_sync_count": st.LastSyncCount, "last_sync_job": st.LastSyncJob,
		"last_error": st.LastError, "synchronizable": true, "created_at": st.CreatedAt, "updated_at": st.UpdatedAt,
	}
	if st.BrokerRoles == nil {
		v["broker_roles"] = []glossa.GroupMapping{}
	}
	job, export, accessErr := s.storageStatus(ctx, p, st)
	if job != nil {
		v["job"] = job
	}
	if export != nil {
		v["export"] = *export
	}
	if st.AuthMode.PerPerson() {
		access := map[string]any{"ok": true}
		if accessErr != nil {
			access = map[string]any{"ok": false, "code": glossa.ErrorCode(accessErr), "message": glossa.ErrorMessage(accessErr)}
		}
		v["your_access"] = access
	}
	return v
}

// storageStatus looks up what is shown beside a storage's settings: its
// last sync job, what it has written (a target storage), and whether p's
// own credentials may use it (a per-person storage; nil when they may).
// A job or count that cannot be read is left out (nil).
func (s *Server) storageStatus(ctx context.Context, p *glossa.Principal, st *glossa.Storage) (job *glossa.StorageJob, export *glossa.ExportWriteCounts, access error) {
	if st.LastSyncJob != nil {
		if j, err := s.Storages.FindStorageJob(ctx, p.OrgID, *st.LastSyncJob); err == nil {
			job = j
		}
	}
	if st.Type == glossa.StorageTarget {
		if c, err := s.Storages.CountExportWrites(ctx, p.OrgID, st.ID); err == nil {
			export = &c
		}
	}
	if st.AuthMode.PerPerson() {
		access = s.Storage.CheckAccess(ctx, st, p.UserID)
	}
	return job, export, access
}

func (s *Server) handleStorageList(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	q := r.URL.Query().Get("project")
	if q == "" {
		return glossa.Errorf(glossa.EINVALID, "Say which project: ?project=ID.")
	}
	projectID, err := parseID("project", q)
	if err != nil {
		return err
	}
	if _, err := s.projectByID(r, p, projectID, authz.StorageManage); err != nil {
		return err
	}
	list, err := s.Storages.FindStorages(r.Context(), glossa.StorageFilter{OrgID: p.OrgID, ProjectID: projectID, Type: storageTypeOf(r)})
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for i := range list {
		out = append(out, s.storageView(r.Context(), p, &list[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// newStorage builds a storage of the path's type from a create or
// validate request, with Label Studio's defaults.
func (s *Server) newStorage(r *http.Request, p *glossa.Principal) (*glossa.Storage, error) {
	var req storageRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	return s.buildStorage(r, p, storageTypeOf(r), &req)
}

// buildStorage makes a storage of type typ from a request (the API's JSON
// or the storage page's form), checks that the caller may manage its
// project, seals a static secret and validates the settings.
func (s *Server) buildStorage(r *http.Request, p *glossa.Principal, typ glossa.StorageType, req *storageRequest) (*glossa.Storage, error) {
	if req.Project == nil {
		return nil, glossa.Errorf(glossa.EINVALID, "project is required: the ID of the project this storage belongs to.")
	}
	pr, err := s.projectByID(r, p, *req.Project, authz.StorageManage)
	if err != nil {
		return nil, err
	}
	st := &glossa.Storage{
		OrgID: p.OrgID, ProjectID: pr.ID, Type: typ, Presign: true, PresignTTL: glossa.DefaultPresignTTL,
		SessionDuration: glossa.DefaultSessionDuration, AuthMode: glossa.AuthStatic, Status: glossa.SyncInitialized,
	}
	if req.AuthMode == nil && req.AccessKeyID == nil && (req.RoleARN != nil || req.PrincipalARN != nil) {
		// A role without keys: Label Studio Enterprise's "S3 with IAM role".
		st.AuthMode = glossa.AuthAssumeRole
	}
	req.apply(st)
	if err := s.sealStorageSecret(st, req); err != nil {
		return nil, err
	}
	return st, validateStorage(st, len(st.SealedSecret) > 0)
}

// sealStorageSecret seals a static secret from the request into st. A
// storage that leaves static mode drops its secret.
func (s *Server) sealStorageSecret(st *glossa.Storage, req *storageRequest) error {
	if st.AuthMode != glossa.AuthStatic {
		st.AccessKeyID, st.SealedSecret = "", nil
		return nil
	}
	if req.SecretAccessKey == nil && req.SessionToken == nil {
		return nil
	}
	var secretKey, token string
	if req.SecretAccessKey != nil {
		secretKey = strings.TrimSpace(*req.SecretAccessKey)
	}
	if req.SessionToken != nil {
		token = strings.TrimSpace(*req.SessionToken)
	}
	if secretKey == "" {
		return glossa.Errorf(glossa.EINVALID, "aws_secret_access_key is required with aws_session_token.")
	}
	return s.Storage.SealSecret(st, secretKey, token)
}

func (s *Server) handleStorageCreate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.newStorage(r, p)
	if err != nil {
		return err
	}
	if err := s.createStorage(r, p, st); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.storageView(r.Context(), p, st))
	return nil
}

// createStorage stores a built storage and audits it.
func (s *Server) createStorage(r *http.Request, p *glossa.Principal, st *glossa.Storage) error {
	if err := s.Storages.CreateStorage(r.Context(), st); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "storage.create", Outcome: glossa.OutcomeSuccess,
		TargetType: "storage", TargetID: idString(st.ID), Detail: map[string]any{"type": st.Type, "bucket": st.Bucket, "prefix": st.Prefix, "auth_mode": st.AuthMode}})
	return nil
}

func (s *Server) handleStorageGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.storageFromPath(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.storageView(r.Context(), p, st))
	return nil
}

func (s *Server) handleStorageUpdate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.storageFromPath(r, p)
	if err != nil {
		return err
	}
	var req storageRequest
	if err := decodeJSON(r, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Project != nil && *req.Project != st.ProjectID {
		return glossa.Errorf(glossa.EINVALID, "A storage cannot move to another project; create one there instead.")
	}
	req.apply(st)
	if err := s.sealStorageSecret(st, &req); err != nil {
		return err
	}
	if err := validateStorage(st, len(st.SealedSecret) > 0); err != nil {
		return err
	}
	if err := s.Storages.UpdateStorage(r.Context(), st); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "storage.update", Outcome: glossa.OutcomeSuccess,
		TargetType: "storage", TargetID: idString(st.ID), Detail: map[string]any{"bucket": st.Bucket, "prefix": st.Prefix, "auth_mode": st.AuthMode}})
	writeJSON(w, http.StatusOK, s.storageView(r.Context(), p, st))
	return nil
}

func (s *Server) handleStorageDelete(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.storageFromPath(r, p)
	if err != nil {
		return err
	}
	if err := s.Storages.DeleteStorage(r.Context(), p.OrgID, st.ID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "storage.delete", Outcome: glossa.OutcomeSuccess,
		TargetType: "storage", TargetID: idString(st.ID)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleStorageValidate checks settings with real calls, without saving
// them (Label Studio's POST .../validate). It answers 200 when the
// connection works and otherwise the error that explains what is wrong.
func (s *Server) handleStorageValidate(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.newStorage(r, p)
	if err != nil {
		return err
	}
	if err := s.Storage.Validate(r.Context(), st, p.UserID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": "Glossa can reach the bucket with these settings."})
	return nil
}

// handleStorageSync queues a sync job (a source lists the bucket into
// tasks; a target writes every annotation not yet written) and answers at
// once with the storage and its job; the job's progress is at
// /api/storages/jobs/{id}.
func (s *Server) handleStorageSync(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	st, err := s.storageFromPath(r, p)
	if err != nil {
		return err
	}
	if err := s.queueSync(r, p, st); err != nil {
		return err
	}
	if st, err = s.Storages.FindStorageByID(r.Context(), p.OrgID, st.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.storageView(r.Context(), p, st))
	return nil
}

// queueSync queues a sync of st on behalf of p, wakes the worker and
// audits it. A per-person storage syncs with p's own credentials: missing
// or expired ones are said now (EREAUTH, EFORBIDDEN) rather than queueing a
// job that must fail.
func (s *Server) queueSync(r *http.Request, p *glossa.Principal, st *glossa.Storage) error {
	if st.AuthMode.PerPerson() {
		if err := s.Storage.CheckAccess(r.Context(), st, p.UserID); err != nil {
			return err
		}
	}
	j := &glossa.StorageJob{OrgID: p.OrgID, StorageID: st.ID, Type: st.Type, RequestedBy: p.UserID, Status: glossa.SyncQueued, CreatedAt: s.Now()}
	if err := s.Storages.CreateStorageJob(r.Context(), j); err != nil {
		return err
	}
	s.Storage.Kick()
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "storage.sync", Outcome: glossa.OutcomeSuccess,
		TargetType: "storage", TargetID: idString(st.ID), Detail: map[string]any{"job": j.ID}})
	return nil
}

// jobFromPath loads job {id} and checks that the caller may manage its storage.
func (s *Server) jobFromPath(r *http.Request, p *glossa.Principal) (*glossa.StorageJob, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	j, err := s.Storages.FindStorageJob(r.Context(), p.OrgID, id)
	if err != nil {
		return nil, err
	}
	st, err := s.Storages.FindStorageByID(r.Context(), p.OrgID, j.StorageID)
	if err != nil {
		return nil, err
	}
	if _, err := s.projectByID(r, p, st.ProjectID, authz.StorageManage); err != nil {
		return nil, err
	}
	return j, nil
}

func (s *Server) handleStorageJobGet(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	j, err := s.jobFromPath(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) handleStorageJobCancel(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	j, err := s.jobFromPath(r, p)
	if err != nil {
		return err
	}
	if j, err = s.Storages.CancelStorageJob(r.Context(), p.OrgID, j.ID); err != nil {
		return err
	}
	s.audit(r.Context(), r, &glossa.AuditEvent{OrgID: p.OrgID, Action: "storage.sync.cancel", Outcome: glossa.OutcomeSuccess,
		TargetType: "storage_job", TargetID: idString(j.ID)})
	writeJSON(w, http.StatusOK, j)
	return nil
}
