package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
)

// upForTest runs `mediavec up` with its default flags but the addresses
// and data folder, in dir, and returns the API's base URL.
func upForTest(t *testing.T, dir string, extra ...string) (base string, stdout, stderr *syncBuffer) {
	t.Helper()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // where up leaves its NATS token for the CLI
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int)
	args := append([]string{"up", "--data", filepath.Join(dir, ".mediavec"), "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--workers", "1"}, extra...)
	go func() { done <- run(ctx, args, stdout, stderr) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`API on (http://[0-9.:]+), NATS on`).FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout, stderr
		}
	}
	t.Fatalf("up did not start: %s", stderr.String())
	return "", nil, nil
}

type httpReply struct {
	code   int
	header http.Header
	body   string
}

func send(t *testing.T, method, u, contentType, body string, header map[string]string) httpReply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return httpReply{res.StatusCode, res.Header, string(b)}
}

// A page on another origin, a DNS-rebinding page and a JSON body of the
// wrong type get nothing from `mediavec up`'s API with default flags, and
// queue nothing; the API's own page and the CLI still work.
func TestUpRefusesBrowserAttacks(t *testing.T) {
	base, _, _ := upForTest(t, t.TempDir())
	job := `{"video_id": "csrf", "source": "/tmp/x.mp4"}`
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      map[string]string
		code        int
	}{
		{"HTML form, text/plain", "POST", "/v1/videos", "text/plain", job, nil, 415},
		{"HTML form, urlencoded", "POST", "/v1/videos", "application/x-www-form-urlencoded", "video_id=csrf&source=/tmp/x.mp4", nil, 415},
		{"HTML form, multipart", "POST", "/v1/videos", "multipart/form-data; boundary=x", "--x--", nil, 415},
		{"no content type", "POST", "/v1/videos", "", job, nil, 415},
		{"cross-site fetch", "POST", "/v1/videos", "application/json", job, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-origin, old browser", "POST", "/v1/videos", "application/json", job, map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site delete", "DELETE", "/v1/videos/x", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site search upload", "POST", "/v1/search", "multipart/form-data; boundary=x", "--x--", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"DNS rebinding, search", "POST", "/v1/search", "application/json", `{"text": "cat"}`, map[string]string{"Host": "rebind.attacker.example"}, 421},
		{"DNS rebinding, spaces", "GET", "/v1/spaces", "", "", map[string]string{"Host": "rebind.attacker.example:8080"}, 421},
		{"DNS rebinding, page", "GET", "/", "", "", map[string]string{"Host": "rebind.attacker.example"}, 421},
		{"trailing data", "POST", "/v1/videos", "application/json", job + `{"video_id": "second"}`, nil, 400},
		{"oversize body", "POST", "/v1/videos", "application/json", `{"video_id": "` + strings.Repeat("a", 2<<20) + `"}`, nil, 413},
		{"NaN threshold", "POST", "/v1/search", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"threshold\"\r\n\r\nNaN\r\n--x--\r\n", nil, 400},
	}
	for _, c := range cases {
		r := send(t, c.method, base+c.path, c.contentType, c.body, c.header)
		if r.code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, r.code, r.body, c.code)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", c.name)
		}
	}
	if r := send(t, "GET", base+"/v1/videos/csrf", "", "", nil); r.code != 404 {
		t.Errorf("a refused submission was queued: %d %s", r.code, r.body)
	}

	// What must keep working: the page from its own origin, localhost,
	// a client without a browser.
	u, _ := url.Parse(base)
	page := send(t, "GET", base+"/", "", "", map[string]string{"Host": "localhost:" + u.Port()})
	if page.code != 200 || page.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(page.header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("the page: %d, headers %v", page.code, page.header)
	}
	sameOrigin := map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}
	for _, c := range []struct {
		contentType, body string
		header            map[string]string
	}{
		{"application/json", `{"video_id": "ok1", "source": "/tmp/x.mp4"}`, sameOrigin},
		{"application/json; charset=utf-8", `{"video_id": "ok2", "source": "/tmp/x.mp4"}`, nil},
	} {
		if r := send(t, "POST", base+"/v1/videos", c.contentType, c.body, c.header); r.code != 202 {
			t.Errorf("submission %s: %d %s, want 202", c.body, r.code, r.body)
		}
	}
	if r := send(t, "GET", base+"/healthz", "", "", map[string]string{"Host": "10.1.2.3:8080"}); r.code != 200 {
		t.Errorf("probe by IP: %d", r.code)
	}
}

// With no --roots, `mediavec up` reads files only under the folder it was
// started in and its uploads folder, says so at start, and a refused file
// fails the same way whether it exists or not.
func TestUpConfinesSourcesByDefault(t *testing.T) {
	home := t.TempDir()
	private := t.TempDir()
	clips.MakeT(t, home, clips.Spec{Name: "inside", Video: "testsrc2", Seconds: 2})
	secret := clips.MakeT(t, private, clips.Spec{Name: "secret", Video: "testsrc2", Seconds: 2})
	base, stdout, _ := upForTest(t, home)
	if !strings.Contains(stdout.String(), "file sources only under "+home) {
		t.Errorf("up does not say where sources may be: %s", stdout.String())
	}
	submit := func(id, source string) {
		b, _ := json.Marshal(map[string]string{"video_id": id, "source": source})
		if r := send(t, "POST", base+"/v1/videos", "application/json", string(b), nil); r.code != 202 {
			t.Fatalf("submit %s: %d %s", id, r.code, r.body)
		}
	}
	submit("inside", filepath.Join(home, "inside.mp4"))
	submit("secret", secret)
	submit("missing", filepath.Join(private, "missing.mp4"))
	errorOf := map[string]string{}
	for _, id := range []string{"inside", "secret", "missing"} {
		var st struct{ State, Error string }
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			r := send(t, "GET", base+"/v1/videos/"+id, "", "", nil)
			_ = json.Unmarshal([]byte(r.body), &st)
			if st.State != "queued" && st.State != "processing" {
				break
			}
		}
		errorOf[id] = st.Error
		want := "failed"
		if id == "inside" {
			want = "indexed"
		}
		if st.State != want {
			t.Errorf("%s: %s %s, want %s", id, st.State, st.Error, want)
		}
	}
	// The same words for a file that exists and one that does not: a job
	// cannot probe the machine's files.
	same := func(s, path string) string { return strings.ReplaceAll(s, path, "PATH") }
	if a, b := same(errorOf["secret"], secret), same(errorOf["missing"], filepath.Join(private, "missing.mp4")); a != b || !strings.Contains(a, "not under any allowed root") {
		t.Errorf("refused files fail differently by existence:\n  existing: %s\n  missing:  %s", a, b)
	}
	if _, err := os.Stat(filepath.Join(home, ".mediavec", "uploads")); err != nil {
		t.Errorf("no uploads folder: %v", err)
	}
}

// The embedded NATS server of `mediavec up` takes no client without its
// token — no job, no forged status, no purge, no event read — while every
// CLI command of the same user finds the token by itself.
func TestUpNATSRequiresItsToken(t *testing.T) {
	dir := t.TempDir()
	_, stdout, _ := upForTest(t, dir)
	m := regexp.MustCompile(`NATS on (nats://[0-9.:]+),`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("up printed no NATS URL (or printed its token): %s", stdout.String())
	}
	natsURL := m[1]
	nc, err := nats.Connect(natsURL, nats.Timeout(5*time.Second))
	if err == nil {
		js, _ := jetstream.New(nc)
		_, perr := js.Publish(t.Context(), queue.SubjectUpload, []byte(`{"v":1,"video_id":"x","source":"file:///etc/passwd"}`))
		nc.Close()
		t.Fatalf("a client without the token connected (publish: %v)", perr)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("connect without the token: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect(natsURL, nats.Token("guess"), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("a wrong token was accepted")
	}
	for _, f := range []string{filepath.Join(dir, ".mediavec", "nats.token")} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want a 0600 file", f, err)
		}
	}
	u, _ := url.Parse(natsURL)
	left, err := app.NATSTokenFile(u.Host)
	if st, serr := os.Stat(left); err != nil || serr != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the token left for the CLI at %s: %v %v", left, err, serr)
	}
	out, code := cli(t, t.Context(), "dlq", "list", "--nats", natsURL)
	if code != 0 || !strings.Contains(out, "no dead letters") {
		t.Errorf("dlq list with the token found by itself: exit %d, %q", code, out)
	}
}
