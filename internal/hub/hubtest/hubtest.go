// Package hubtest serves model repos the way the Hugging Face hub serves them, for tests of code that
// downloads models: the hub's URL layout ({repo}/resolve/{revision}/{file}), its headers
// (X-Repo-Commit; ETag, the git blob id, for small files; a 302 to a second server standing for the
// CDN with X-Linked-Etag, the sha256, and X-Linked-Size for LFS files; X-Error-Code and
// X-Error-Message on errors), tokens, private and gated repos, renamed repos (a relative 307), and a
// CDN that honours Range requests and can drop, stall or corrupt a transfer.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Commit is the commit every repo of a Server is at.
const Commit = "0123456789abcdef0123456789abcdef01234567"

// Token is the one access token a Server accepts.
const Token = "hf_valid"

// Server is a fake hub and its CDN. Its settings may be changed while it runs.
type Server struct {
	URL string // the hub endpoint, for HF_ENDPOINT

	hub, cdn *httptest.Server

	mu        sync.Mutex
	repos     map[string]*Repo
	moved     map[string]string
	requests  []string
	blobs     map[string][]byte // sha256 -> content, for the CDN
	dropAfter map[string]int64
	stallAt   map[string]int64
	corrupt   map[string]bool
	noRange   bool
	gets      map[string]int
}

// Repo is a repo of a Server.
type Repo struct {
	Files   map[string][]byte
	LFS     map[string]bool // files served through the CDN
	Private bool            // anonymous requests get 401, as for a repo that does not exist
	Gated   bool            // requests get 403 GatedRepo even with the token (conditions not accepted)
}

// NewServer starts a hub and a CDN, closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		repos:     map[string]*Repo{},
		moved:     map[string]string{},
		blobs:     map[string][]byte{},
		dropAfter: map[string]int64{},
		stallAt:   map[string]int64{},
		corrupt:   map[string]bool{},
		gets:      map[string]int{},
	}
	s.cdn = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.URL = s.hub.URL
	t.Cleanup(s.hub.Close)
	t.Cleanup(s.cdn.Close)
	return s
}

// AddRepo serves files as repo id; the files named in lfs go through the CDN.
func (s *Server) AddRepo(id string, files map[string][]byte, lfs ...string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &Repo{Files: files, LFS: map[string]bool{}}
	for _, n := range lfs {
		r.LFS[n] = true
		s.blobs[SHA256(files[n])] = files[n]
	}
	s.repos[id] = r
	return r
}

// Move answers requests for the repo id from with a relative redirect to id to (a renamed repo).
func (s *Server) Move(from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moved[from] = to
}

// DropAfter makes the CDN's first GET of content announce all of it, send n bytes and cut the
// connection.
func (s *Server) DropAfter(content []byte, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter[SHA256(content)] = n
}

// StallAt makes the CDN's first GET of content send n bytes and then nothing until the client leaves.
func (s *Server) StallAt(content []byte, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallAt[SHA256(content)] = n
}

// Corrupt makes the CDN serve content with its middle byte changed (same length).
func (s *Server) Corrupt(content []byte, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt[SHA256(content)] = on
}

// IgnoreRange makes the CDN answer every GET with 200 and the whole file.
func (s *Server) IgnoreRange(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRange = on
}

// Log returns one line per request since the last call, in order, and forgets them:
//
//	hub HEAD /ORG/NAME/resolve/main/config.json auth=false
//	cdn GET 0123456789ab range="bytes=1000-" auth=false
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}

func (s *Server) record(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, fmt.Sprintf(format, args...))
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	s.record("hub %s %s auth=%t", r.Method, r.URL.EscapedPath(), auth != "")
	repoID, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/resolve/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	revEsc, fileEsc, _ := strings.Cut(rest, "/")
	rev, _ := url.PathUnescape(revEsc)
	file, _ := url.PathUnescape(fileEsc)
	s.mu.Lock()
	to, moved := s.moved[repoID]
	repo := s.repos[repoID]
	s.mu.Unlock()
	if moved {
		w.Header().Set("Location", "/"+to+"/resolve/"+rest)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	hubError := func(status int, code, msg string) {
		if code != "" {
			w.Header().Set("X-Error-Code", code)
		}
		w.Header().Set("X-Error-Message", msg)
		w.WriteHeader(status)
	}
	switch {
	case auth != "" && auth != "Bearer "+Token:
		hubError(http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
		return
	case auth == "" && (repo == nil || repo.Private):
		// The hub does not tell a missing repo from a private one to an anonymous request.
		hubError(http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return
	case repo == nil:
		hubError(http.StatusNotFound, "RepoNotFound", "Repository not found")
		return
	case repo.Gated:
		hubError(http.StatusForbidden, "GatedRepo", "Access to model "+repoID+" is restricted")
		return
	case rev != "main" && rev != Commit:
		hubError(http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	w.Header().Set("X-Repo-Commit", Commit)
	data, ok := repo.Files[file]
	if !ok {
		hubError(http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	if repo.LFS[file] {
		sum := SHA256(data)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		// The ETag of the redirect is that of the LFS pointer file, not of the content.
		w.Header().Set("ETag", `"`+GitBlobID([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:"+sum))+`"`)
		w.Header().Set("Location", s.cdn.URL+"/repos/"+sum+"?X-Amz-Signature=abc")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+GitBlobID(data)+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	sum := strings.TrimPrefix(r.URL.Path, "/repos/")
	s.mu.Lock()
	data, ok := s.blobs[sum]
	first := r.Method == http.MethodGet && s.gets[sum] == 0
	if r.Method == http.MethodGet {
		s.gets[sum]++
	}
	drop, hasDrop := s.dropAfter[sum]
	stall, hasStall := s.stallAt[sum]
	corrupt, noRange := s.corrupt[sum], s.noRange
	s.mu.Unlock()
	s.record("cdn %s %.12s range=%q auth=%t", r.Method, sum, r.Header.Get("Range"), r.Header.Get("Authorization") != "")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if corrupt {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	switch {
	case first && hasDrop:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:drop])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-body
	case first && hasStall:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:stall])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	case noRange:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// SHA256 is the hex sha256 of b: the etag of an LFS file.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// GitBlobID is git's object id of a file, which the hub sends as the ETag of files not in LFS.
func GitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// ReadModel reads the files of a model folder (no subfolders), to serve them.
func ReadModel(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read the test model: %v", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}
