package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/captune/captune/internal/atomicfile"
)

// Client downloads model files from a hub into a Cache. Build it with NewClient; its fields may be
// adjusted before the first call. A Client may be used by several goroutines.
type Client struct {
	Endpoint  string // hub URL without trailing slash, e.g. https://huggingface.co
	Token     string // sent as "Authorization: Bearer" to the endpoint's host only, never to a CDN
	Cache     Cache
	Offline   bool   // answer from the cache only, without a request
	UserAgent string // e.g. "captune/0.1.0"

	// HTTP sends the requests. Its redirect policy is replaced per request: metadata requests stop at
	// the first redirect to another host (the CDN), downloads follow redirects.
	HTTP *http.Client
	// Retries is how many times a transfer whose connection dropped or stalled is resumed.
	Retries int
	// RetryWait is the pause before the first resume, doubled before each later one.
	RetryWait time.Duration
	// StallTimeout drops (and resumes) a transfer that received nothing for this long.
	StallTimeout time.Duration
	// FreeSpace reports the bytes free on the file system holding a folder; nil asks the system.
	// Tests set it to pretend that the disk is full.
	FreeSpace func(dir string) (int64, bool)
}

// NewClient returns a Client for the settings, with retries and timeouts suited to large downloads.
func NewClient(s Settings) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 20 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 60 * time.Second
	endpoint := strings.TrimRight(s.Endpoint, "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return &Client{
		Endpoint:     endpoint,
		Token:        s.Token,
		Cache:        Cache{Dir: s.CacheDir},
		Offline:      s.Offline,
		UserAgent:    "captune",
		HTTP:         &http.Client{Transport: tr},
		Retries:      5,
		RetryWait:    time.Second,
		StallTimeout: time.Minute,
	}
}

// The weight files of a captioning model, in order of preference (as transformers loads them).
const (
	weightsSafetensors = "model.safetensors"
	weightsIndex       = "model.safetensors.index.json"
	weightsBin         = "pytorch_model.bin"
)

// modelFiles are the non-weight files of a BLIP captioning model; optional ones may be absent.
var modelFiles = []struct {
	name     string
	optional bool
}{
	{"config.json", false},
	{"preprocessor_config.json", false},
	{"tokenizer.json", true},
	{"vocab.txt", true},
	{"tokenizer_config.json", true},
	{"special_tokens_map.json", true},
	{"added_tokens.json", true},
	{"generation_config.json", true},
}

// Download fetches what a BLIP captioning model needs from repo at revision ("" means main) into the
// cache and returns its snapshot folder. Files already in the cache are not fetched again; a partial
// file left by an interrupted pull (Captune's or huggingface_hub's) is resumed. onProgress, if not
// nil, is called from the calling goroutine at most every 100 ms and once after the last byte.
//
// In offline mode it answers from the cache alone, with an error wrapping ErrOffline and ErrNotCached
// when the model is not there.
func (c *Client) Download(ctx context.Context, repo, revision string, onProgress func(Progress)) (string, error) {
	if err := ValidateRepoID(repo); err != nil {
		return "", err
	}
	if revision == "" {
		revision = DefaultRevision
	}
	if err := validateRevision(revision); err != nil {
		return "", err
	}
	if c.Offline {
		dir, err := c.Cache.Snapshot(repo, revision)
		if err != nil {
			return "", fmt.Errorf("%w: %w (unset HF_HUB_OFFLINE to download it)", ErrOffline, err)
		}
		return dir, nil
	}
	pl, err := c.plan(ctx, repo, revision)
	if err != nil {
		return "", err
	}
	if err := c.checkSpace(repo, pl); err != nil {
		return "", err
	}
	p := newProgress(repo, pl, onProgress)
	// config.json goes last: a snapshot with config.json is one whose other files are all in place,
	// so an interrupted pull never looks like a usable model.
	for _, f := range append(pl.files[1:len(pl.files):len(pl.files)], pl.files[0]) {
		if err := c.fetch(ctx, repo, f, p); err != nil {
			return "", err
		}
	}
	p.finish()
	if err := c.writeRef(repo, revision, pl.commit); err != nil {
		return "", err
	}
	c.Cache.markVersion()
	dir := filepath.Join(c.Cache.RepoDir(repo), "snapshots", pl.commit)
	if err := CheckModel(dir); err != nil {
		return "", fmt.Errorf("pull %s: %w", repo, err)
	}
	return dir, nil
}

// remoteFile is one file of a repo as the hub described it.
type remoteFile struct {
	name     string // path in the repo
	commit   string
	etag     string // blob name in the cache
	size     int64
	url      string // where to GET it: the resolve URL, or the CDN URL it redirects to
	sendAuth bool   // url is on the endpoint's host
}

// lfs reports whether the etag is a sha256 of the content (LFS files), which Download verifies.
func (f remoteFile) lfs() bool {
	return sha256RE.MatchString(f.etag)
}

type plan struct {
	commit string
	files  []remoteFile // files[0] is config.json
}

// plan asks the hub about every file of the model. The first answer names the commit; every later
// request asks for that commit, so that a push during the pull cannot mix two versions.
func (c *Client) plan(ctx context.Context, repo, revision string) (plan, error) {
	var pl plan
	tokenizer := false
	for i, mf := range modelFiles {
		rev := revision
		if i > 0 {
			rev = pl.commit
		}
		f, err := c.head(ctx, repo, rev, mf.name)
		if i == 0 {
			if errors.Is(err, ErrFileNotFound) {
				return pl, fmt.Errorf("%w: not a transformers model", err)
			}
			if err != nil {
				return pl, err
			}
			pl.commit = f.commit
		}
		if errors.Is(err, ErrFileNotFound) && mf.optional {
			c.markAbsent(repo, pl.commit, mf.name)
			continue
		}
		if err != nil {
			return pl, err
		}
		if mf.name == "tokenizer.json" || mf.name == "vocab.txt" {
			tokenizer = true
		}
		pl.files = append(pl.files, f)
	}
	if !tokenizer {
		return pl, fmt.Errorf("%s has neither tokenizer.json nor vocab.txt: %w", repo, ErrFileNotFound)
	}
	weights, err := c.planWeights(ctx, repo, pl.commit)
	if err != nil {
		return pl, err
	}
	pl.files = append(pl.files, weights...)
	return pl, nil
}

// planWeights picks model.safetensors, else the sharded index and its shards, else pytorch_model.bin.
func (c *Client) planWeights(ctx context.Context, repo, commit string) ([]remoteFile, error) {
	f, err := c.head(ctx, repo, commit, weightsSafetensors)
	if err == nil {
		return []remoteFile{f}, nil
	}
	if !errors.Is(err, ErrFileNotFound) {
		return nil, err
	}
	c.markAbsent(repo, commit, weightsSafetensors)
	idx, err := c.head(ctx, repo, commit, weightsIndex)
	if err == nil {
		// The index is small and names the shards: fetch it now (into the cache, where it stays).
		if err := c.fetch(ctx, repo, idx, nil); err != nil {
			return nil, err
		}
		shards, err := readShardIndex(filepath.Join(c.Cache.RepoDir(repo), "snapshots", commit, weightsIndex))
		if err != nil {
			return nil, err
		}
		files := []remoteFile{idx}
		for _, s := range shards {
			f, err := c.head(ctx, repo, commit, s)
			if err != nil {
				return nil, fmt.Errorf("shard named by %s: %w", weightsIndex, err)
			}
			files = append(files, f)
		}
		return files, nil
	}
	if !errors.Is(err, ErrFileNotFound) {
		return nil, err
	}
	c.markAbsent(repo, commit, weightsIndex)
	f, err = c.head(ctx, repo, commit, weightsBin)
	if errors.Is(err, ErrFileNotFound) {
		c.markAbsent(repo, commit, weightsBin)
		return nil, fmt.Errorf("%s has no weights (%s, %s or %s): %w", repo, weightsSafetensors, weightsIndex, weightsBin, ErrFileNotFound)
	}
	if err != nil {
		return nil, err
	}
	return []remoteFile{f}, nil
}

// readShardIndex returns the distinct shard files of a model.safetensors.index.json, in order.
func readShardIndex(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read shard index: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("read shard index %s: %w", path, err)
	}
	seen := map[string]bool{}
	var shards []string
	for _, s := range idx.WeightMap {
		if err := validateRepoPath(s); err != nil {
			return nil, fmt.Errorf("shard index %s: %w", path, err)
		}
		if !seen[s] {
			seen[s] = true
			shards = append(shards, s)
		}
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("shard index %s names no shard", path)
	}
	sort.Strings(shards)
	return shards, nil
}

// fileURL is the hub's URL of a file at a revision; the revision is one path segment ("refs/pr/1"
// becomes refs%2Fpr%2F1), the file keeps its slashes.
func (c *Client) fileURL(repo, revision, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.Endpoint + "/" + repo + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(segs, "/")
}

// head asks for a file's metadata without downloading it. Redirects within the hub's host (a renamed
// repo) are followed with the token; a redirect to another host (the CDN that serves LFS files) ends
// the request, and the file is later fetched from there without the token, as huggingface_hub does.
func (c *Client) head(ctx context.Context, repo, revision, name string) (remoteFile, error) {
	u := c.fileURL(repo, revision, name)
	client := c.noRedirects()
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return remoteFile{}, fmt.Errorf("%s: %w", repo, err)
		}
		c.setHeaders(req, c.sameHost(u))
		resp, err := client.Do(req)
		if err != nil {
			return remoteFile{}, networkError(u, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return remoteFile{}, fmt.Errorf("%s: %s: redirect without a location from %s", repo, name, c.Endpoint)
			}
			if sameHostURL(loc, u) && hops < 10 {
				u = loc.String()
				continue
			}
			return c.describe(resp, repo, revision, name, loc.String())
		}
		if resp.StatusCode != http.StatusOK {
			return remoteFile{}, c.statusError(resp, repo, revision, name)
		}
		return c.describe(resp, repo, revision, name, u)
	}
}

// describe reads a file's metadata from the hub's headers. A redirect response carries them too.
func (c *Client) describe(resp *http.Response, repo, revision, name, location string) (remoteFile, error) {
	f := remoteFile{
		name:     name,
		commit:   resp.Header.Get("X-Repo-Commit"),
		etag:     normalizeEtag(firstHeader(resp.Header, "X-Linked-Etag", "ETag")),
		url:      location,
		sendAuth: c.sameHost(location),
	}
	if f.commit == "" {
		return f, fmt.Errorf("%s: %s answers without an X-Repo-Commit header: it is not a Hugging Face hub (check HF_ENDPOINT, a proxy or a firewall)", repo, c.Endpoint)
	}
	if !commitRE.MatchString(f.commit) {
		return f, fmt.Errorf("%s: the hub named commit %q, not a commit hash", repo, f.commit)
	}
	if f.etag == "" || strings.ContainsAny(f.etag, `/\`) || f.etag == "." || f.etag == ".." {
		return f, fmt.Errorf("%s: %s: the hub sent no usable ETag (%q)", repo, name, f.etag)
	}
	size := firstHeader(resp.Header, "X-Linked-Size", "Content-Length")
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 {
		if resp.ContentLength < 0 || resp.StatusCode != http.StatusOK {
			return f, fmt.Errorf("%s: %s: the hub sent no file size", repo, name)
		}
		n = resp.ContentLength
	}
	f.size = n
	return f, nil
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// normalizeEtag turns W/"abc" or "abc" into abc, a blob file name.
func normalizeEtag(e string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`)
}

func (c *Client) statusError(resp *http.Response, repo, revision, name string) *StatusError {
	return &StatusError{
		Status:    resp.StatusCode,
		Code:      resp.Header.Get("X-Error-Code"),
		Message:   resp.Header.Get("X-Error-Message"),
		Endpoint:  c.Endpoint,
		Repo:      repo,
		Revision:  revision,
		File:      name,
		TokenSent: c.Token != "",
	}
}

func (c *Client) setHeaders(req *http.Request, auth bool) {
	req.Header.Set("User-Agent", c.UserAgent)
	// The sizes and checksums are those of the bytes as stored: no transparent compression.
	req.Header.Set("Accept-Encoding", "identity")
	if auth && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

func (c *Client) sameHost(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && sameHostURL(u, c.Endpoint)
}

func sameHostURL(u *url.URL, other string) bool {
	o, err := url.Parse(other)
	return err == nil && strings.EqualFold(u.Scheme, o.Scheme) && strings.EqualFold(u.Host, o.Host)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) noRedirects() *http.Client {
	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// withRedirects follows redirects; net/http drops the Authorization header when one leaves the host.
func (c *Client) withRedirects() *http.Client {
	hc := *c.httpClient()
	hc.CheckRedirect = nil
	return &hc
}

// markAbsent records, as huggingface_hub does, that a file does not exist at a commit, so that
// offline lookups (Python's included) know not to look for it.
func (c *Client) markAbsent(repo, commit, name string) {
	p := filepath.Join(c.Cache.RepoDir(repo), ".no_exist", commit, filepath.FromSlash(name))
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
}

// writeRef records the commit a branch or tag pointed at (refs/REVISION), atomically.
func (c *Client) writeRef(repo, revision, commit string) error {
	if revision == commit {
		return nil
	}
	p := filepath.Join(c.Cache.RepoDir(repo), "refs", filepath.FromSlash(revision))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("record %s@%s: %w", repo, revision, err)
	}
	if err := atomicfile.WriteFile(p, []byte(commit), 0o644); err != nil {
		return fmt.Errorf("record %s@%s: %w", repo, revision, err)
	}
	return nil
}

// checkSpace refuses a pull that cannot fit, before writing anything large. A file system that
// cannot report its free space is not checked; a write that fills it still fails with ErrDiskFull.
func (c *Client) checkSpace(repo string, pl plan) error {
	blobs := filepath.Join(c.Cache.RepoDir(repo), "blobs")
	var need int64
	for _, f := range pl.files {
		blob := filepath.Join(blobs, f.etag)
		if st, err := os.Stat(blob); err == nil && st.Size() == f.size {
			continue
		}
		need += f.size
		if st, err := os.Stat(blob + ".incomplete"); err == nil && st.Size() <= f.size {
			need -= st.Size()
		}
	}
	dir := existingParent(blobs)
	if free, ok := c.freeSpace(dir); ok && free < need {
		return fmt.Errorf("%w: %s needs %s more but %s has %s free: free some space, or set HF_HOME to a folder on another disk",
			ErrDiskFull, repo, FormatBytes(need), dir, FormatBytes(free))
	}
	return nil
}

// existingParent returns dir, or its nearest parent that exists: where a folder about to be made
// will live.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

func (c *Client) freeSpace(dir string) (int64, bool) {
	if c.FreeSpace != nil {
		return c.FreeSpace(dir)
	}
	return freeSpace(dir)
}
