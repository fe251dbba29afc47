package hub_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/internal/hub/hubtest"
)

const testRepo = "captune-test/tiny-blip"

// checkSnapshot asserts that dir is the snapshot huggingface_hub would have made: every file a
// relative symlink into blobs/, named by its etag, with the expected bytes; no partial file anywhere.
func checkSnapshot(t *testing.T, c *hub.Client, repo, dir string, want map[string][]byte, lfs ...string) {
	t.Helper()
	wantDir := filepath.Join(c.Cache.RepoDir(repo), "snapshots", hubtest.Commit)
	if dir != wantDir {
		t.Fatalf("snapshot dir = %s, want %s", dir, wantDir)
	}
	for name, data := range want {
		p := filepath.Join(dir, filepath.FromSlash(name))
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("%s: not a symlink: %v", name, err)
			continue
		}
		etag := hubtest.GitBlobID(data)
		if slices.Contains(lfs, name) {
			etag = hubtest.SHA256(data)
		}
		wantTarget := filepath.Join(strings.Repeat(".."+string(filepath.Separator), strings.Count(name, "/")+2)+"blobs", etag)
		if target != wantTarget {
			t.Errorf("%s -> %s, want %s", name, target, wantTarget)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: content differs from the served file (err %v)", name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("snapshot holds %v, want exactly the %d served files", names, len(want))
	}
	partials, _ := filepath.Glob(filepath.Join(c.Cache.RepoDir(repo), "blobs", "*.incomplete"))
	if len(partials) > 0 {
		t.Errorf("partial files left: %v", partials)
	}
	ref, err := os.ReadFile(filepath.Join(c.Cache.RepoDir(repo), "refs", "main"))
	if err != nil || string(ref) != hubtest.Commit {
		t.Errorf("refs/main = %q (%v), want %s", ref, err, hubtest.Commit)
	}
	if v, err := os.ReadFile(filepath.Join(c.Cache.Dir, "version.txt")); err != nil || string(v) != "1" {
		t.Errorf("version.txt = %q (%v), want 1 as transformers writes it", v, err)
	}
}

// assertNotLinked asserts that an interrupted pull left nothing usable: no config.json (the last file
// linked) and no weights in the snapshot, and hub.Cache.Snapshot reports the model as not cached.
func assertNotLinked(t *testing.T, c *hub.Client, repo string) {
	t.Helper()
	dir := filepath.Join(c.Cache.RepoDir(repo), "snapshots", hubtest.Commit)
	for _, name := range []string{"config.json", "model.safetensors"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s is in the snapshot after a failed pull", name)
		}
	}
	if _, err := c.Cache.Snapshot(repo, ""); !errors.Is(err, hub.ErrNotCached) {
		t.Errorf("hub.Cache.Snapshot after a failed pull: err = %v, want hub.ErrNotCached", err)
	}
}

func TestDownloadLayouts(t *testing.T) {
	tiny := tinyModel(t)
	weights := tiny["model.safetensors"]
	half := len(weights) / 2
	without := func(names ...string) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range tiny {
			if !slices.Contains(names, k) {
				m[k] = v
			}
		}
		return m
	}
	sharded := without("model.safetensors")
	sharded["model-00001-of-00002.safetensors"] = weights[:half]
	sharded["model-00002-of-00002.safetensors"] = weights[half:]
	sharded["model.safetensors.index.json"] = []byte(`{"metadata": {"total_size": 1}, "weight_map": {
		"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}`)
	bin := without("model.safetensors")
	bin["pytorch_model.bin"] = weights
	both := without()
	both["pytorch_model.bin"] = []byte("not fetched: model.safetensors comes first")

	tests := []struct {
		name      string
		files     map[string][]byte
		lfs       []string
		want      map[string][]byte
		noExist   []string // recorded in .no_exist/COMMIT
		cdnFetchs int
	}{
		{"safetensors", tiny, []string{"model.safetensors"}, tiny, nil, 1},
		{"safetensors over pytorch_model.bin", both, []string{"model.safetensors", "pytorch_model.bin"}, tiny, nil, 1},
		{"sharded", sharded, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"},
			sharded, []string{"model.safetensors"}, 2},
		{"pytorch_model.bin", bin, []string{"pytorch_model.bin"}, bin, []string{"model.safetensors", "model.safetensors.index.json"}, 1},
		{"optional files absent", without("generation_config.json", "added_tokens.json", "vocab.txt"), []string{"model.safetensors"},
			without("generation_config.json", "added_tokens.json", "vocab.txt"), []string{"generation_config.json", "added_tokens.json", "vocab.txt"}, 1},
		{"vocab.txt only", without("tokenizer.json"), []string{"model.safetensors"}, without("tokenizer.json"), []string{"tokenizer.json"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hubtest.NewServer(t)
			h.AddRepo(testRepo, tt.files, tt.lfs...)
			c := newClient(t, h)
			var last hub.Progress
			calls := 0
			dir, err := c.Download(context.Background(), testRepo, "", func(p hub.Progress) { last = p; calls++ })
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, testRepo, dir, tt.want, tt.lfs...)
			var total int64
			for _, b := range tt.want {
				total += int64(len(b))
			}
			if last.Done != total || last.Total != total || last.Files != len(tt.want) || last.FileIndex != len(tt.want) || last.ETA != 0 {
				t.Errorf("last progress = %+v, want Done = Total = %d over %d files, ETA 0", last, total, len(tt.want))
			}
			for _, n := range tt.noExist {
				if _, err := os.Stat(filepath.Join(c.Cache.RepoDir(testRepo), ".no_exist", hubtest.Commit, n)); err != nil {
					t.Errorf(".no_exist/%s/%s not recorded: %v", hubtest.Commit, n, err)
				}
			}
			var cdnGets, cdnAuth int
			for _, l := range h.Log() {
				if strings.HasPrefix(l, "cdn GET") {
					cdnGets++
				}
				if strings.HasPrefix(l, "cdn") && strings.HasSuffix(l, "auth=true") {
					cdnAuth++
				}
			}
			if cdnGets != tt.cdnFetchs || cdnAuth != 0 {
				t.Errorf("CDN: %d GETs (want %d), %d with a token (want 0)", cdnGets, tt.cdnFetchs, cdnAuth)
			}

			// A second pull finds everything in the cache: metadata requests only.
			if _, err := c.Download(context.Background(), testRepo, "", nil); err != nil {
				t.Fatal(err)
			}
			for _, l := range h.Log() {
				if strings.Contains(l, " GET ") {
					t.Errorf("second pull downloaded again: %s", l)
				}
			}
			if got, err := c.Cache.Snapshot(testRepo, ""); err != nil || got != dir {
				t.Errorf("hub.Cache.Snapshot = %q, %v; want %s", got, err, dir)
			}
		})
	}
}

// TestDownloadResume: the CDN sends half of model.safetensors and drops the connection.
func TestDownloadResume(t *testing.T) {
	tiny := tinyModel(t)
	sum := hubtest.SHA256(tiny["model.safetensors"])
	size := int64(len(tiny["model.safetensors"]))
	half := size / 2

	t.Run("within one pull", func(t *testing.T) {
		h := hubtest.NewServer(t)
		h.AddRepo(testRepo, tiny, "model.safetensors")
		h.DropAfter(tiny["model.safetensors"], half)
		c := newClient(t, h)
		c.Retries = 1
		var notes []string
		var last hub.Progress
		dir, err := c.Download(context.Background(), testRepo, "", func(p hub.Progress) {
			if p.Note != "" && !slices.Contains(notes, p.Note) {
				notes = append(notes, p.Note)
			}
			last = p
		})
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, c, testRepo, dir, tiny, "model.safetensors")
		cdn := cdnLines(h.Log())
		for _, l := range cdn {
			t.Logf("request: %s", l)
		}
		for _, n := range notes {
			t.Logf("progress note: %s", n)
		}
		t.Logf("last progress: %d/%d bytes, file %d/%d, %d resume(s)", last.Done, last.Total, last.FileIndex, last.Files, last.Resumes)
		want := []string{
			`cdn GET ` + sum[:12] + ` range="" auth=false`,
			`cdn GET ` + sum[:12] + ` range="bytes=` + itoa(half) + `-" auth=false`,
		}
		if diff := diffLines(want, cdn); diff != "" {
			t.Errorf("CDN requests (-want +got):\n%s", diff)
		}
		if last.Resumes != 1 || len(notes) != 1 || !strings.Contains(notes[0], "connection to 127.0.0.1") {
			t.Errorf("progress reported %d resumes, notes %q; want 1 naming the lost connection", last.Resumes, notes)
		}
	})

	t.Run("across pulls", func(t *testing.T) {
		h := hubtest.NewServer(t)
		h.AddRepo(testRepo, tiny, "model.safetensors")
		h.DropAfter(tiny["model.safetensors"], half)
		c := newClient(t, h)
		c.Retries = 0
		_, err := c.Download(context.Background(), testRepo, "", nil)
		t.Logf("first pull: %v", err)
		if !errors.Is(err, hub.ErrNetwork) || !strings.Contains(err.Error(), "pull again to resume") {
			t.Fatalf("first pull: err = %v, want a lost connection with a hint to resume", err)
		}
		part := filepath.Join(c.Cache.RepoDir(testRepo), "blobs", sum+".incomplete")
		st, err := os.Stat(part)
		if err != nil || st.Size() != half {
			t.Fatalf("partial file %s: %v, size %d; want %d bytes", part, err, sizeOf(st), half)
		}
		assertNotLinked(t, c, testRepo)
		h.Log()

		dir, err := c.Download(context.Background(), testRepo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, c, testRepo, dir, tiny, "model.safetensors")
		cdn := cdnLines(h.Log())
		for _, l := range cdn {
			t.Logf("second pull request: %s", l)
		}
		want := []string{`cdn GET ` + sum[:12] + ` range="bytes=` + itoa(half) + `-" auth=false`}
		if diff := diffLines(want, cdn); diff != "" {
			t.Errorf("second pull's CDN requests (-want +got):\n%s", diff)
		}
	})

	t.Run("stalled transfer", func(t *testing.T) {
		h := hubtest.NewServer(t)
		h.AddRepo(testRepo, tiny, "model.safetensors")
		h.StallAt(tiny["model.safetensors"], half)
		c := newClient(t, h)
		c.Retries, c.StallTimeout = 1, 200*time.Millisecond
		dir, err := c.Download(context.Background(), testRepo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, c, testRepo, dir, tiny, "model.safetensors")
		if got := cdnLines(h.Log()); len(got) != 2 || !strings.Contains(got[1], "bytes="+itoa(half)+"-") {
			t.Errorf("CDN requests %q: want a second one resuming at byte %d", got, half)
		}
	})

	t.Run("server ignores Range", func(t *testing.T) {
		h := hubtest.NewServer(t)
		h.AddRepo(testRepo, tiny, "model.safetensors")
		h.DropAfter(tiny["model.safetensors"], half)
		h.IgnoreRange(true)
		c := newClient(t, h)
		c.Retries = 1
		dir, err := c.Download(context.Background(), testRepo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, c, testRepo, dir, tiny, "model.safetensors")
	})
}

func TestDownloadChecksumMismatch(t *testing.T) {
	tiny := tinyModel(t)
	h := hubtest.NewServer(t)
	h.AddRepo(testRepo, tiny, "model.safetensors")
	sum := hubtest.SHA256(tiny["model.safetensors"])
	h.Corrupt(tiny["model.safetensors"], true)
	c := newClient(t, h)
	_, err := c.Download(context.Background(), testRepo, "", nil)
	t.Logf("pull of a corrupted file: %v", err)
	if !errors.Is(err, hub.ErrChecksum) || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), sum) {
		t.Fatalf("err = %v, want hub.ErrChecksum naming the announced sha256", err)
	}
	blobs := filepath.Join(c.Cache.RepoDir(testRepo), "blobs")
	for _, p := range []string{sum, sum + ".incomplete"} {
		if _, err := os.Stat(filepath.Join(blobs, p)); err == nil {
			t.Errorf("blobs/%s kept after the checksum failed", p)
		}
	}
	assertNotLinked(t, c, testRepo)
	// A second pull gets the good bytes (the corruption was transient) from the start.
	h.Corrupt(tiny["model.safetensors"], false)
	dir, err := c.Download(context.Background(), testRepo, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, c, testRepo, dir, tiny, "model.safetensors")
}

func TestDownloadErrors(t *testing.T) {
	tiny := tinyModel(t)
	noPre := map[string][]byte{}
	noWeights := map[string][]byte{}
	noTokenizer := map[string][]byte{}
	for k, v := range tiny {
		if k != "preprocessor_config.json" {
			noPre[k] = v
		}
		if k != "model.safetensors" {
			noWeights[k] = v
		}
		if k != "tokenizer.json" && k != "vocab.txt" {
			noTokenizer[k] = v
		}
	}
	tests := []struct {
		name     string
		repo     string
		revision string
		token    string
		setup    func(h *hubtest.Server, r *hubtest.Repo)
		want     error
		wantText []string
	}{
		{name: "missing repo, anonymous", repo: "nobody/nothing", want: hub.ErrAccessDenied,
			wantText: []string{"401 Unauthorized", "repo not found, or private or gated", "set HF_TOKEN"}},
		{name: "missing repo, with a token", repo: "nobody/nothing", token: hubtest.Token, want: hub.ErrRepoNotFound,
			wantText: []string{"nobody/nothing: repo not found on http://127.0.0.1", "404"}},
		{name: "private repo, no token", repo: testRepo, want: hub.ErrAccessDenied,
			setup:    func(h *hubtest.Server, r *hubtest.Repo) { r.Private = true },
			wantText: []string{"private or gated", "set HF_TOKEN"}},
		{name: "private repo, wrong token", repo: testRepo, token: "hf_wrong", want: hub.ErrAccessDenied,
			setup:    func(h *hubtest.Server, r *hubtest.Repo) { r.Private = true },
			wantText: []string{"refused the token in HF_TOKEN as invalid"}},
		{name: "gated repo", repo: testRepo, token: hubtest.Token, want: hub.ErrAccessDenied,
			setup:    func(h *hubtest.Server, r *hubtest.Repo) { r.Gated = true },
			wantText: []string{"gated repo (403 Forbidden)", "accept its conditions", "/" + testRepo}},
		{name: "missing revision", repo: testRepo, revision: "v9", want: hub.ErrRevisionNotFound,
			wantText: []string{`revision "v9" not found`}},
		{name: "missing config.json", repo: "captune-test/empty", want: hub.ErrFileNotFound,
			setup: func(h *hubtest.Server, _ *hubtest.Repo) {
				h.AddRepo("captune-test/empty", map[string][]byte{"README.md": []byte("hi")})
			},
			wantText: []string{"captune-test/empty: config.json not found in the repo (404 Not Found): not a transformers model"}},
		{name: "missing preprocessor_config.json", repo: "captune-test/nopre", want: hub.ErrFileNotFound,
			setup:    func(h *hubtest.Server, _ *hubtest.Repo) { h.AddRepo("captune-test/nopre", noPre, "model.safetensors") },
			wantText: []string{"preprocessor_config.json not found in the repo (404 Not Found)"}},
		{name: "missing tokenizer", repo: "captune-test/notok", want: hub.ErrFileNotFound,
			setup: func(h *hubtest.Server, _ *hubtest.Repo) {
				h.AddRepo("captune-test/notok", noTokenizer, "model.safetensors")
			},
			wantText: []string{"neither tokenizer.json nor vocab.txt"}},
		{name: "missing weights", repo: "captune-test/noweights", want: hub.ErrFileNotFound,
			setup:    func(h *hubtest.Server, _ *hubtest.Repo) { h.AddRepo("captune-test/noweights", noWeights) },
			wantText: []string{"no weights (model.safetensors, model.safetensors.index.json or pytorch_model.bin)"}},
		{name: "invalid repo id", repo: "../etc", wantText: []string{`repo id "../etc"`}},
		{name: "invalid revision", repo: testRepo, revision: "../../x", wantText: []string{`revision "../../x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hubtest.NewServer(t)
			r := h.AddRepo(testRepo, tiny, "model.safetensors")
			if tt.setup != nil {
				tt.setup(h, r)
			}
			c := newClient(t, h)
			c.Token = tt.token
			_, err := c.Download(context.Background(), tt.repo, tt.revision, nil)
			t.Logf("error: %v", err)
			if err == nil {
				t.Fatal("pull succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			snaps, _ := filepath.Glob(filepath.Join(c.Cache.Dir, "*", "snapshots", "*", "*"))
			if len(snaps) > 0 {
				t.Errorf("failed pull linked files: %v", snaps)
			}
		})
	}
}

func TestDownloadWithToken(t *testing.T) {
	tiny := tinyModel(t)
	h := hubtest.NewServer(t)
	h.AddRepo(testRepo, tiny, "model.safetensors").Private = true
	h.Move("captune-test/old-name", testRepo)
	c := newClient(t, h)
	c.Token = hubtest.Token
	// The old name answers with a relative redirect (a renamed repo): followed, token kept.
	dir, err := c.Download(context.Background(), "captune-test/old-name", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	var hubAuth, hubAnon, cdnAuth int
	for _, l := range h.Log() {
		switch {
		case strings.HasPrefix(l, "hub") && strings.HasSuffix(l, "auth=true"):
			hubAuth++
		case strings.HasPrefix(l, "hub"):
			hubAnon++
		case strings.HasSuffix(l, "auth=true"):
			cdnAuth++
		}
	}
	if hubAuth == 0 || hubAnon != 0 || cdnAuth != 0 {
		t.Errorf("hub requests: %d with the token, %d without (want all with); CDN requests with it: %d (want 0)", hubAuth, hubAnon, cdnAuth)
	}
}

func TestOffline(t *testing.T) {
	tiny := tinyModel(t)
	h := hubtest.NewServer(t)
	h.AddRepo(testRepo, tiny, "model.safetensors")
	c := newClient(t, h)
	off := *c
	off.Offline = true

	_, err := off.Download(context.Background(), testRepo, "", nil)
	t.Logf("offline, empty cache: %v", err)
	if !errors.Is(err, hub.ErrOffline) || !errors.Is(err, hub.ErrNotCached) || !strings.Contains(err.Error(), "unset HF_HUB_OFFLINE") {
		t.Errorf("offline pull of an uncached model: err = %v, want hub.ErrOffline and hub.ErrNotCached", err)
	}
	if l := h.Log(); len(l) > 0 {
		t.Errorf("offline mode made requests: %q", l)
	}

	dir, err := c.Download(context.Background(), testRepo, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Log()
	for _, rev := range []string{"", "main", hubtest.Commit} {
		got, err := off.Download(context.Background(), testRepo, rev, nil)
		if err != nil || got != dir {
			t.Errorf("offline pull at %q = %q, %v; want %s", rev, got, err, dir)
		}
	}
	if _, err := off.Download(context.Background(), testRepo, "v2", nil); !errors.Is(err, hub.ErrNotCached) {
		t.Errorf("offline pull of an unknown revision: err = %v, want hub.ErrNotCached", err)
	}
	if l := h.Log(); len(l) > 0 {
		t.Errorf("offline mode made requests: %q", l)
	}
}

func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("needs /dev/full (Linux) to make a write fail with ENOSPC")
	}
	tiny := tinyModel(t)
	h := hubtest.NewServer(t)
	h.AddRepo(testRepo, tiny, "model.safetensors")
	c := newClient(t, h)
	// The partial file of the weights is /dev/full: every write to it fails with ENOSPC.
	blobs := filepath.Join(c.Cache.RepoDir(testRepo), "blobs")
	os.MkdirAll(blobs, 0o755)
	if err := os.Symlink("/dev/full", filepath.Join(blobs, hubtest.SHA256(tiny["model.safetensors"])+".incomplete")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Download(context.Background(), testRepo, "", nil)
	t.Logf("pull onto a full disk: %v", err)
	if !errors.Is(err, hub.ErrDiskFull) || !strings.Contains(err.Error(), "no space left on device: free some space, or set HF_HOME") {
		t.Fatalf("err = %v, want hub.ErrDiskFull with what to do", err)
	}
	assertNotLinked(t, c, testRepo)
}

func TestNetworkErrors(t *testing.T) {
	tests := []struct {
		name string
		dial func(ctx context.Context, network, addr string) (net.Conn, error)
		want string
	}{
		{"DNS failure", func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "hub.invalid", IsNotFound: true}}
		}, "cannot resolve hub.invalid (no such host): check the network connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1"},
		{"connection refused", func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, closedPort(t))
		}, "hub.invalid refused the connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hub.NewClient(hub.Settings{Endpoint: "http://hub.invalid", CacheDir: t.TempDir()})
			c.HTTP = &http.Client{Transport: &http.Transport{DialContext: tt.dial}}
			_, err := c.Download(context.Background(), testRepo, "", nil)
			t.Logf("error: %v", err)
			if !errors.Is(err, hub.ErrNetwork) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want hub.ErrNetwork saying %q", err, tt.want)
			}
		})
	}
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNotAHub(t *testing.T) {
	srv := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>captive portal</html>"))
	}))
	c := hub.NewClient(hub.Settings{Endpoint: srv, CacheDir: t.TempDir()})
	_, err := c.Download(context.Background(), testRepo, "", nil)
	if err == nil || !strings.Contains(err.Error(), "not a Hugging Face hub (check HF_ENDPOINT, a proxy or a firewall)") {
		t.Errorf("err = %v, want one naming HF_ENDPOINT", err)
	}
}

func TestCancel(t *testing.T) {
	tiny := tinyModel(t)
	h := hubtest.NewServer(t)
	h.AddRepo(testRepo, tiny, "model.safetensors")
	h.StallAt(tiny["model.safetensors"], 1000)
	c := newClient(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	part := filepath.Join(c.Cache.RepoDir(testRepo), "blobs", hubtest.SHA256(tiny["model.safetensors"])+".incomplete")
	go func() {
		// Cancel once the transfer has begun and hangs; the stall timeout (a minute) is far off.
		for ctx.Err() == nil {
			if st, err := os.Stat(part); err == nil && st.Size() >= 1000 {
				cancel()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := c.Download(ctx, testRepo, "", nil)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertNotLinked(t, c, testRepo)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}

// cdnLines keeps the CDN's GET requests of a request log.
func cdnLines(log []string) []string {
	var out []string
	for _, l := range log {
		if strings.HasPrefix(l, "cdn GET") {
			out = append(out, l)
		}
	}
	return out
}

// diffLines describes how got differs from want, line by line (-want +got).
func diffLines(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	var b strings.Builder
	for _, l := range want {
		b.WriteString("-" + l + "\n")
	}
	for _, l := range got {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

func httptestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClient returns a hub.Client of a fresh cache that talks to h, with instant retries.
func newClient(t *testing.T, h *hubtest.Server) *hub.Client {
	t.Helper()
	c := hub.NewClient(hub.Settings{Endpoint: h.URL, CacheDir: filepath.Join(t.TempDir(), "hub")})
	c.RetryWait = time.Millisecond
	return c
}

// tinyModel is the test BLIP model of the inference package: a real captioning model of 817 kB.
func tinyModel(t *testing.T) map[string][]byte {
	t.Helper()
	files := hubtest.ReadModel(t, filepath.Join("..", "..", "inference", "testdata", "models", "tiny-a"))
	if len(files["model.safetensors"]) == 0 {
		t.Fatal("the test model has no model.safetensors")
	}
	return files
}
