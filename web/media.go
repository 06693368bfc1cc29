package web

// Per-person visibility of tasks that came from federated storages, and
// the media of tasks: s3:// references become links to /tasks/{id}/presign,
// which redirects to a URL presigned with the acting person's credentials
// or streams the object with them.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

// perPersonSources lists the project's source storages read with each
// person's own credentials.
func (s *Server) perPersonSources(ctx context.Context, orgID, projectID int64) ([]glossa.Storage, error) {
	all, err := s.Storages.FindStorages(ctx, glossa.StorageFilter{OrgID: orgID, ProjectID: projectID, Type: glossa.StorageSource})
	if err != nil {
		return nil, err
	}
	var out []glossa.Storage
	for _, st := range all {
		if st.AuthMode.PerPerson() {
			out = append(out, st)
		}
	}
	return out, nil
}

// taskVisibility says which tasks of the project p may see: nil when the
// project has no per-person storage; otherwise the folders of each such
// storage that p's credentials may read (decided per folder and cached
// until the credentials expire). A storage that no role of p's may read
// shows p none of its tasks; expired credentials are EREAUTH.
func (s *Server) taskVisibility(ctx context.Context, p *glossa.Principal, projectID int64) (*glossa.TaskVisibility, error) {
	sources, err := s.perPersonSources(ctx, p.OrgID, projectID)
	if err != nil || len(sources) == 0 {
		return nil, err
	}
	v := &glossa.TaskVisibility{Readable: make(map[int64][]string, len(sources))}
	for i := range sources {
		st := &sources[i]
		folders, err := s.Storages.FindStorageFolders(ctx, p.OrgID, st.ID)
		if err != nil {
			return nil, err
		}
		readable, err := s.Storage.ReadableFolders(ctx, st, p.UserID, folders)
		if glossa.ErrorCode(err) == glossa.EFORBIDDEN {
			// No role of this person's may read this storage (their
			// assertion carries none, or STS refused it): none of its
			// tasks are theirs to see. Expired credentials stay an error:
			// signing in again may bring access back.
			readable, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		v.Storages = append(v.Storages, st.ID)
		v.Readable[st.ID] = readable
	}
	return v, nil
}

// checkTaskVisible hides a task whose object p's credentials may not read:
// it is ENOTFOUND, exactly like a task that does not exist.
func (s *Server) checkTaskVisible(ctx context.Context, p *glossa.Principal, t *glossa.Task) error {
	_, err := s.taskSource(ctx, p, t)
	return err
}

// taskSource returns the storage the task came from (nil when it came from
// none), once checkTaskVisible's check passes. It decides by the object's
// folder, as task lists do, so a task is openable exactly when it is
// listed, and the decision the list made (cached until the credentials
// expire) answers without a call to the bucket: saving an annotation does
// not depend on S3 being up.
func (s *Server) taskSource(ctx context.Context, p *glossa.Principal, t *glossa.Task) (*glossa.Storage, error) {
	link, err := s.Storages.FindStorageLink(ctx, p.OrgID, t.ID)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return nil, nil // not from a storage
	}
	if err != nil {
		return nil, err
	}
	st, err := s.Storages.FindStorageByID(ctx, p.OrgID, link.StorageID)
	if err != nil || !st.AuthMode.PerPerson() {
		return st, err
	}
	readable, err := s.Storage.ReadableFolders(ctx, st, p.UserID, []string{link.Folder})
	if glossa.ErrorCode(err) == glossa.EFORBIDDEN {
		readable, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(readable) == 0 {
		return nil, glossa.NotFound("Task")
	}
	return st, nil
}

// rewriteMediaURLs replaces the s3:// references in a task's data with
// links to the task's media endpoint, as Label Studio resolves storage
// URIs for its frontend.
func rewriteMediaURLs(t *glossa.Task) {
	if !bytes.Contains(t.Data, []byte(`"s3://`)) {
		return
	}
	var data map[string]any
	if err := json.Unmarshal(t.Data, &data); err != nil {
		return
	}
	for k, v := range data {
		if str, ok := v.(string); ok && strings.HasPrefix(str, "s3://") {
			data[k] = mediaLink(t.ID, str)
		}
	}
	if b, err := json.Marshal(data); err == nil {
		t.Data = b
	}
}

// mediaLink is the URL of one media reference of a task.
func mediaLink(taskID int64, uri string) string {
	return "/tasks/" + strconv.FormatInt(taskID, 10) + "/presign?fileuri=" + base64.RawURLEncoding.EncodeToString([]byte(uri))
}

// decodeFileURI reads Label Studio's fileuri parameter: base64 (standard
// or URL-safe, padded or not) of the storage URI.
func decodeFileURI(v string) (string, bool) {
	v = strings.TrimRight(v, "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return string(b), true
		}
	}
	return "", false
}

// taskHasURI reports whether uri is one of the string values of the
// task's data: only a reference the task itself makes may be fetched
// through it.
func taskHasURI(t *glossa.Task, uri string) bool {
	var data map[string]any
	if err := json.Unmarshal(t.Data, &data); err != nil {
		return false
	}
	for _, v := range data {
		if s, ok := v.(string); ok && s == uri {
			return true
		}
	}
	return false
}

// mediaStorage finds the project's source storage that uri lives in: src,
// the storage the task came from (taskSource), if it holds that bucket,
// else the storage of that bucket with the longest matching prefix.
func (s *Server) mediaStorage(ctx context.Context, p *glossa.Principal, t *glossa.Task, src *glossa.Storage, bucket, key string) (*glossa.Storage, error) {
	if src != nil && src.Bucket == bucket {
		return src, nil
	}
	all, err := s.Storages.FindStorages(ctx, glossa.StorageFilter{OrgID: p.OrgID, ProjectID: t.ProjectID, Type: glossa.StorageSource})
	if err != nil {
		return nil, err
	}
	var best *glossa.Storage
	for i := range all {
		st := &all[i]
		if st.Bucket == bucket && strings.HasPrefix(key, st.Prefix) && (best == nil || len(st.Prefix) > len(best.Prefix)) {
			best = st
		}
	}
	if best == nil {
		return nil, glossa.Errorf(glossa.ENOTFOUND, "No storage of this project holds that file.")
	}
	return best, nil
}

// handleTaskMedia serves one media reference of a task (Label Studio's
// /tasks/{id}/presign?fileuri=...): a 303 to a presigned URL, or the object
// streamed through Glossa when the storage does not presign. In per-person
// modes both use the acting person's own credentials.
func (s *Server) handleTaskMedia(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error {
	t, _, src, err := s.taskAndSource(r, p, authz.TaskView)
	if err != nil {
		return err
	}
	uri, ok := decodeFileURI(r.URL.Query().Get("fileuri"))
	if !ok || !taskHasURI(t, uri) {
		return glossa.Errorf(glossa.ENOTFOUND, "This task has no such file.")
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "s3" || u.Host == "" || len(u.Path) < 2 {
		return glossa.Errorf(glossa.ENOTFOUND, "This task has no such file.")
	}
	key := strings.TrimPrefix(u.Path, "/")
	st, err := s.mediaStorage(r.Context(), p, t, src, u.Host, key)
	if err != nil {
		return err
	}
	if st.Presign {
		target, err := s.Storage.MediaURL(r.Context(), st, p.UserID, key)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
	m, err := s.Storage.OpenMedia(r.Context(), st, p.UserID, key, r.Header.Get("Range"))
	if err != nil {
		return err
	}
	defer m.Body.Close()
	h := w.Header()
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if m.ContentType != "" {
		h.Set("Content-Type", m.ContentType)
	}
	if m.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(m.ContentLength, 10))
	}
	if m.ETag != "" {
		h.Set("ETag", m.ETag)
	}
	h.Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	if m.Partial {
		h.Set("Content-Range", m.ContentRange)
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	_, _ = io.Copy(w, m.Body) // the status is sent; a copy error means the client left
	return nil
}

// reauthPath is where a person goes to get fresh federated credentials:
// SP-initiated sign-in at their organization's IdP, coming back to next.
func reauthPath(slug, next string) string {
	target := "/saml/" + url.PathEscape(slug) + "/login"
	if next = localPath(next); next != "" {
		target += "?next=" + url.QueryEscape(next)
	}
	return target
}

// mediaOrigins lists the origins presigned URLs of these storages point
// at: a custom endpoint's own origin, or AWS's S3 hosts.
func mediaOrigins(storages []glossa.Storage) []string {
	var out []string
	seen := map[string]bool{}
	for _, st := range storages {
		if !st.Presign {
			continue
		}
		origin := "https://*.amazonaws.com"
		if u, err := url.Parse(st.S3Endpoint); err == nil && st.S3Endpoint != "" && u.Host != "" {
			origin = u.Scheme + "://" + u.Host
		}
		if !seen[origin] {
			seen[origin] = true
			out = append(out, origin)
		}
	}
	return out
}
