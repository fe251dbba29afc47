package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/captune/captune/internal/atomicfile"
)

// sha256RE matches the etag of an LFS file: the sha256 of its content.
var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// errStalled ends a transfer that received nothing for Client.StallTimeout.
var errStalled = errors.New("transfer stalled")

// retryable marks a transfer failure that a resumed attempt may get past.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// fetch puts one file into the snapshot: from the snapshot itself when it is there, else from its
// blob, else from the network into blobs/ETAG.incomplete, verified, renamed to blobs/ETAG, and only
// then linked from snapshots/COMMIT/NAME.
func (c *Client) fetch(ctx context.Context, repo string, f remoteFile, p *progress) error {
	root := c.Cache.RepoDir(repo)
	blob := filepath.Join(root, "blobs", f.etag)
	pointer := filepath.Join(root, "snapshots", f.commit, filepath.FromSlash(f.name))
	p.startFile(f)
	if st, err := os.Stat(pointer); err == nil && st.Size() == f.size {
		p.endFile()
		return nil
	}
	locks := filepath.Join(c.Cache.Dir, ".locks", repoFolder(repo))
	for _, d := range []string{filepath.Dir(blob), locks} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return writeError(d, err)
		}
	}
	// Python's huggingface_hub takes the same lock, so neither appends to the other's partial file.
	unlock, err := lockFile(ctx, filepath.Join(locks, f.etag+".lock"))
	if err != nil {
		return fmt.Errorf("lock %s in the cache: %w", f.name, err)
	}
	defer unlock()
	if st, err := os.Stat(blob); err != nil || st.Size() != f.size {
		if err := c.transfer(ctx, repo, f, blob, p); err != nil {
			return err
		}
	}
	if err := linkBlob(blob, pointer); err != nil {
		return writeError(pointer, err)
	}
	p.endFile()
	return nil
}

// transfer downloads f into blob, resuming after dropped or stalled connections up to Client.Retries
// times, then verifies its size and (for LFS files) its sha256. A file that fails the check is
// deleted: resuming it would keep the bad bytes.
func (c *Client) transfer(ctx context.Context, repo string, f remoteFile, blob string, p *progress) error {
	part := blob + ".incomplete"
	wait := c.RetryWait
	for attempt := 0; ; attempt++ {
		err := c.transferOnce(ctx, repo, f, part, p)
		if err == nil {
			break
		}
		var r retryable
		if !errors.As(err, &r) || attempt >= c.Retries || ctx.Err() != nil {
			if r.err != nil {
				err = r.err
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("pull %s: %s: %w (the partial file is kept: pull again to resume)", repo, f.name, err)
		}
		p.resumed(err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("pull %s: %s: %w (the partial file is kept: pull again to resume)", repo, f.name, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	st, err := os.Stat(part)
	if err != nil {
		return fmt.Errorf("pull %s: %s: %w", repo, f.name, err)
	}
	if st.Size() != f.size {
		os.Remove(part)
		return fmt.Errorf("pull %s: %s: %w: got %d bytes, the hub announced %d; deleted", repo, f.name, ErrChecksum, st.Size(), f.size)
	}
	if f.lfs() {
		sum, err := fileSHA256(part)
		if err != nil {
			return fmt.Errorf("pull %s: verify %s: %w", repo, f.name, err)
		}
		if sum != f.etag {
			os.Remove(part)
			return fmt.Errorf("pull %s: %s: %w: its sha256 is %s but the hub announced %s; the file was deleted and nothing was added to the cache (pull again; if it repeats, a proxy is altering downloads)",
				repo, f.name, ErrChecksum, sum, f.etag)
		}
	}
	if err := os.Rename(part, blob); err != nil {
		return writeError(blob, err)
	}
	return nil
}

// transferOnce makes one GET for the bytes of f that part does not hold yet and appends them.
func (c *Client) transferOnce(ctx context.Context, repo string, f remoteFile, part string, p *progress) error {
	out, have, err := openPart(part, f.size)
	if err != nil {
		return err
	}
	defer out.Close()
	p.setFileDone(have)
	if have == f.size {
		return nil
	}

	g := newStallGuard(ctx, c.StallTimeout)
	defer g.stop()
	req, err := http.NewRequestWithContext(g.reqCtx, http.MethodGet, f.url, nil)
	if err != nil {
		return err
	}
	c.setHeaders(req, f.sendAuth)
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := c.withRedirects().Do(req)
	if err != nil {
		return g.failed(f.url, err)
	}
	defer resp.Body.Close()
	if have, err = c.resumeAt(resp, repo, f, out, part, have, p); err != nil {
		return err
	}
	if _, err := out.Seek(have, io.SeekStart); err != nil {
		return writeError(part, err)
	}
	if have, err = g.receive(resp.Body, out, part, f, have, p); err != nil {
		return err
	}
	if have < f.size {
		return retryable{fmt.Errorf("%w: %s sent %d of %d bytes", ErrNetwork, hostOf(f.url), have, f.size)}
	}
	// Flush before the checksum and rename: a full disk can surface only here.
	if err := out.Sync(); err != nil {
		return writeError(part, err)
	}
	if err := out.Close(); err != nil {
		return writeError(part, err)
	}
	return nil
}

// openPart opens the partial file part of a file of size bytes for appending and returns how
// many bytes it holds; one longer than the file is emptied.
func openPart(part string, size int64) (*os.File, int64, error) {
	out, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, 0, writeError(part, err)
	}
	st, err := out.Stat()
	if err != nil {
		out.Close()
		return nil, 0, writeError(part, err)
	}
	have := st.Size()
	if have > size {
		if err := out.Truncate(0); err != nil {
			out.Close()
			return nil, 0, writeError(part, err)
		}
		have = 0
	}
	return out, have, nil
}

// resumeAt checks the server's answer to a request for the bytes of f from have on, and returns
// where the body starts: have, or 0 when the server sends the whole file (out is then emptied).
func (c *Client) resumeAt(resp *http.Response, repo string, f remoteFile, out *os.File, part string, have int64, p *progress) (int64, error) {
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			out.Truncate(0)
			return 0, retryable{fmt.Errorf("%w: asked to resume at byte %d, the server answered %q", ErrNetwork, have, resp.Header.Get("Content-Range"))}
		}
	case http.StatusOK:
		if have > 0 {
			// The server ignored the Range header and sends the whole file: start over.
			if err := out.Truncate(0); err != nil {
				return 0, writeError(part, err)
			}
			have = 0
			p.setFileDone(0)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		out.Truncate(0)
		return 0, retryable{fmt.Errorf("%w: the server cannot resume at byte %d (416)", ErrNetwork, have)}
	default:
		se := c.statusError(resp, repo, f.commit, f.name)
		if se.temporary() {
			return 0, retryable{se}
		}
		return 0, se
	}
	return have, nil
}

// stallGuard cancels a request that receives nothing for its stall timeout (Client.StallTimeout,
// a minute by default); every read that brings bytes restarts the clock.
type stallGuard struct {
	ctx    context.Context // the caller's: its cancellation is not a network failure
	reqCtx context.Context // the request's
	cancel context.CancelCauseFunc
	timer  *time.Timer
	stall  time.Duration
}

func newStallGuard(ctx context.Context, stall time.Duration) *stallGuard {
	if stall <= 0 {
		stall = time.Minute
	}
	g := &stallGuard{ctx: ctx, stall: stall}
	g.reqCtx, g.cancel = context.WithCancelCause(ctx)
	g.timer = time.AfterFunc(stall, func() { g.cancel(errStalled) })
	return g
}

func (g *stallGuard) stop() {
	g.timer.Stop()
	g.cancel(nil)
}

// failed classifies a failed request or read of url: a stall or a network error may be retried,
// the caller's cancellation may not.
func (g *stallGuard) failed(url string, err error) error {
	if errors.Is(context.Cause(g.reqCtx), errStalled) {
		return retryable{fmt.Errorf("%w: no data from %s for %s", ErrNetwork, hostOf(url), g.stall)}
	}
	if g.ctx.Err() != nil {
		return g.ctx.Err()
	}
	return retryable{networkError(url, err)}
}

// receive appends body to out, which holds the first have bytes of f, until f is complete or the
// body ends, and returns how many bytes out then holds.
func (g *stallGuard) receive(body io.Reader, out *os.File, part string, f remoteFile, have int64, p *progress) (int64, error) {
	buf := make([]byte, 256<<10)
	for have < f.size {
		n, rerr := body.Read(buf[:min(int64(len(buf)), f.size-have)])
		if n > 0 {
			g.timer.Reset(g.stall)
			if _, err := out.Write(buf[:n]); err != nil {
				return have, writeError(part, err)
			}
			have += int64(n)
			p.received(int64(n))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return have, g.failed(f.url, rerr)
		}
	}
	return have, nil
}

// contentRangeStart reads the first byte position of "bytes START-END/TOTAL".
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// writeError explains a failed write into the cache, with what to do when the disk is full.
func writeError(path string, err error) error {
	if isDiskFull(err) {
		return fmt.Errorf("%w: %v: free some space, or set HF_HOME to a folder on another disk", ErrDiskFull, err)
	}
	return fmt.Errorf("write %s: %w", path, err)
}

// linkBlob points snapshots/COMMIT/NAME at its blob with a relative symlink, as huggingface_hub does
// (so the cache can be moved), or copies the blob where symlinks are not allowed (Windows without
// developer mode). The link appears atomically: the snapshot never holds a partial file.
func linkBlob(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	tmp := atomicfile.TempPath(pointer)
	if err := os.Symlink(rel, tmp); err != nil {
		// Copy beside the blob, so that a copy cut short stays out of snapshots/.
		tmp = atomicfile.TempPath(blob)
		if err := copyFile(blob, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil { // before the rename that publishes it
		out.Close()
		return err
	}
	return out.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hostOf(rawURL string) string {
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	return rawURL
}

// FormatBytes writes a byte count for people: 742.7 kB, 990.0 MB, 1.9 GB (powers of 1000, as the hub
// shows file sizes).
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
