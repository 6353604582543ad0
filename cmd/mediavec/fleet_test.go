package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/index/qdranttest"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
)

// buildBinary builds this command into dir, for tests that run it as
// separate processes.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mediavec")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsServer is a standalone nats-server process (the pinned version that
// scripts/setup builds), restartable on the same port and store; with
// routes, one node of a JetStream cluster.
type natsServer struct {
	t                 *testing.T
	bin, store        string
	name, routes      string // a cluster node's name and its cluster's routes
	port, clusterPort int
	cmd               *exec.Cmd
	log               *bytes.Buffer
	stopped           bool
	kills             int
	killedAt          time.Time
}

// natsServerBinary is the standalone nats-server scripts/setup builds.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(encoders.CacheDir(), "bin", "nats-server")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the standalone nats-server is needed: run scripts/setup (%v)", err)
	}
	return bin
}

func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	s := &natsServer{t: t, bin: natsServerBinary(t), store: t.TempDir(), port: freePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start starts the server and waits until it takes clients.
func (s *natsServer) start() {
	s.t.Helper()
	s.log = &bytes.Buffer{}
	args := []string{"-js", "-sd", s.store, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port)}
	if s.routes != "" {
		args = append(args, "-n", s.name, "--cluster_name", "mediavec", "--cluster", "nats://127.0.0.1:"+strconv.Itoa(s.clusterPort), "--routes", s.routes)
	}
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.stopped = false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if nc, err := nats.Connect(s.url(), nats.Timeout(time.Second)); err == nil {
			nc.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("nats-server did not start: %s", s.log)
}

// stop ends the server as an operator would (SIGTERM).
func (s *natsServer) stop() {
	if s.cmd == nil || s.stopped {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.stopped = true
}

// kill ends the server as a crash would (SIGKILL).
func (s *natsServer) kill() {
	if s.cmd == nil || s.stopped {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.kills++
	s.stopped, s.killedAt = true, time.Now()
}

// workerProc is one `mediavec worker` process.
type workerProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

// TestFleetSurvivesCrashes runs three `mediavec worker` processes against a
// standalone nats-server and, through the Qdrant backend, the in-process
// Qdrant-protocol server. Forty clips are submitted, two of them broken.
// Every second or so a random worker is killed with SIGKILL and started
// again, and once the NATS server itself is restarted. In the end every
// good video is indexed exactly once — its point counts equal those of a
// clean run — and the dead-letter queue holds exactly the two broken ones.
func TestFleetSurvivesCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a fleet of processes for a few minutes; skipped in -short mode")
	}
	ctx := t.Context()
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	ns := startNATSServer(t)
	qaddr := qdranttest.Start(t)

	// 38 good clips of 4 s in a few looks, with sound; 2 broken ones.
	looks := []string{"testsrc2", "smptehdbars", "mandelbrot", "cellauto=rule=110", "life=mold=10:ratio=0.3", "rgbtestsrc"}
	var good, all []string
	for i := range 38 {
		p := clips.MakeT(t, dir, clips.Spec{Name: fmt.Sprintf("v%02d", i), Video: looks[i%len(looks)],
			Audio: fmt.Sprintf("sine=frequency=%d", 200+37*i), Seconds: 4, Width: 320, Height: 240})
		good = append(good, p)
	}
	truncated := filepath.Join(dir, "broken-truncated.mp4")
	if err := clips.Truncate(good[0], truncated, 3000); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "broken-garbage.mp4")
	os.WriteFile(garbage, bytes.Repeat([]byte("definitely not a video "), 400), 0o644)
	all = append(append(all, good...), truncated, garbage)

	var mu sync.Mutex
	workers := make([]*workerProc, 3)
	start := func(i int) {
		w := &workerProc{log: &bytes.Buffer{}}
		w.cmd = exec.Command(bin, "worker", "--nats", ns.url(), "--qdrant", qaddr, "--concurrency", "1",
			"--ack-wait", "4s", "--max-attempts", "10", "--drain-timeout", "2s", "--metrics", "")
		w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers[i] = w
	}
	for i := range workers {
		start(i)
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range workers {
			_ = w.cmd.Process.Signal(syscall.SIGTERM)
			_ = w.cmd.Wait()
		}
	}()

	// The workers create the topology; submit once it is there.
	nc, err := nats.Connect(ns.url(), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for ready := time.Now().Add(time.Minute); ; {
		if _, err := queue.OpenStatuses(ctx, js); err == nil {
			break
		}
		if time.Now().After(ready) {
			t.Fatal("the workers did not create the topology")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, code := cli(t, ctx, append([]string{"submit", "--nats", ns.url()}, all...)...); code != 0 {
		t.Fatalf("submit: exit %d: %s", code, out)
	}

	// Chaos: SIGKILL a random worker every 0.6–1.5 s and start it again; once,
	// restart the NATS server. A kill waits for a video to have settled since
	// the last one: on a loaded machine (the other test packages running
	// beside this one) a worker may need longer than the interval to start
	// and finish a job, and kills that outpace all progress would prove
	// nothing but the attempt limit.
	chaosCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan struct{})
	kills, natsRestarts := 0, 0
	var settled atomic.Int32 // videos in a final state, written by the wait below
	go func() {
		defer close(chaosDone)
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		lastSettled := int32(-1)
		for round := 0; ; round++ {
			select {
			case <-chaosCtx.Done():
				return
			case <-time.After(time.Duration(600+rng.IntN(900)) * time.Millisecond):
			}
			if n := settled.Load(); n == lastSettled && round > 3 {
				continue
			} else {
				lastSettled = n
			}
			mu.Lock()
			i := rng.IntN(len(workers))
			_ = workers[i].cmd.Process.Kill()
			_ = workers[i].cmd.Wait()
			kills++
			start(i)
			if round == 3 {
				ns.stop()
				time.Sleep(time.Second)
				ns.start()
				natsRestarts++
			}
			mu.Unlock()
		}
	}()

	// Wait for every video to reach a final state.
	ids := make([]string, len(all))
	for i, p := range all {
		ids[i] = filepath.Base(p[:len(p)-len(filepath.Ext(p))])
	}
	final := map[string]queue.Status{}
	deadline := time.Now().Add(6 * time.Minute)
	for len(final) < len(ids) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		statuses, err := queue.OpenStatuses(ctx, js)
		if err != nil {
			continue // NATS restarting
		}
		for _, id := range ids {
			if st, err := statuses.Get(ctx, id); err == nil && (st.State == queue.StateIndexed || st.State == queue.StateFailed) {
				final[id] = st
			}
		}
		settled.Store(int32(len(final)))
	}
	stopChaos()
	<-chaosDone
	t.Logf("%d worker kills, %d NATS restart(s); %d of %d videos final", kills, natsRestarts, len(final), len(ids))
	if len(final) < len(ids) {
		mu.Lock()
		for i, w := range workers {
			t.Logf("worker %d log tail: %s", i, tail(w.log.String(), 2000))
		}
		mu.Unlock()
		t.Fatalf("only %d of %d videos reached a final state", len(final), len(ids))
	}
	if kills < 5 || natsRestarts != 1 {
		t.Fatalf("the chaos was too mild to prove anything: %d kills, %d NATS restarts", kills, natsRestarts)
	}

	// Every good video exactly once: its points are those of a clean run.
	a, unload, err := app.LoadAnalyzer(app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer unload()
	ix, err := app.OpenIndex(ctx, app.Config{Qdrant: &qdrant.Config{Addr: qaddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for i, p := range good {
		id := ids[i]
		if st := final[id]; st.State != queue.StateIndexed {
			t.Errorf("%s: %s, want indexed", id, st.Line())
			continue
		}
		res, err := a.Source(ctx, p, analyze.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ix.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		if got != len(res.Segments) {
			t.Errorf("%s: %d segment points, a clean run makes %d", id, got, len(res.Segments))
		}
		if n, _ := ix.Count(ctx, index.Videos, index.Filter{VideoIDs: []string{id}}); n != 1 {
			t.Errorf("%s: %d video points, want 1", id, n)
		}
	}
	for _, id := range ids[len(good):] {
		st := final[id]
		if st.State != queue.StateFailed || (st.Cause != queue.CauseDecode && st.Cause != queue.CauseInvalid) {
			t.Errorf("%s: %s, want failed: decode or invalid", id, st.Line())
		}
	}

	// The DLQ: exactly the two broken inputs, once each.
	dlq, err := js.Stream(ctx, queue.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := dlq.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := dlq.Info(ctx)
	seen := map[string]string{}
	for range info.State.Msgs {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var dl queue.DeadLetter
		if err := json.Unmarshal(msg.Data(), &dl); err != nil {
			t.Fatal(err)
		}
		job, _ := queue.ParseJob(dl.Job)
		if prev, dup := seen[job.VideoID]; dup {
			t.Errorf("%s dead-lettered twice (%s, %s)", job.VideoID, prev, dl.Cause)
		}
		seen[job.VideoID] = dl.Cause
	}
	if len(seen) != 2 || seen["broken-truncated"] == "" || seen["broken-garbage"] == "" {
		t.Errorf("dead letters %v, want exactly the two broken inputs", seen)
	}
	for id, cause := range seen {
		if cause != queue.CauseDecode && cause != queue.CauseInvalid {
			t.Errorf("%s dead-lettered with cause %s, want decode or invalid", id, cause)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
