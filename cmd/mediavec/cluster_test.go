package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/index/qdranttest"
	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/queue"
)

// startCluster starts three nats-server processes (the pinned standalone
// build) routed to each other, and waits until JetStream has a meta
// leader.
func startCluster(t *testing.T) []*natsServer {
	t.Helper()
	bin := natsServerBinary(t)
	nodes := make([]*natsServer, 3)
	var routes []string
	for i := range nodes {
		nodes[i] = &natsServer{t: t, name: fmt.Sprintf("n%d", i+1), bin: bin, store: t.TempDir(), port: freePort(t), clusterPort: freePort(t)}
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(nodes[i].clusterPort))
	}
	for _, n := range nodes {
		n.routes = strings.Join(routes, ",")
		n.start()
		t.Cleanup(n.stop)
	}
	nc, err := nats.Connect(seeds(nodes), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return nodes
		}
		if time.Now().After(deadline) {
			for _, n := range nodes {
				t.Logf("%s: %s", n.name, tail(n.log.String(), 1500))
			}
			t.Fatalf("the JetStream cluster did not elect a meta leader: %v", err)
		}
	}
}

func seeds(nodes []*natsServer) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	return strings.Join(urls, ",")
}

// streamLeader is the server name leading the jobs stream, "" while none.
func streamLeader(ctx context.Context, js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, queue.StreamJobs)
	if err != nil {
		return ""
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// TestJetStreamClusterLosesNothing runs the queue on a three-node
// JetStream cluster — jobs, dead letters, events and the status bucket at
// three replicas, workers and publishers given every seed URL — and, in
// the middle of a backfill, SIGKILLs the jobs stream's leader, later a
// follower, and restarts both. Every video ends indexed exactly once:
// none lost, none written twice, nothing dead-lettered.
func TestJetStreamClusterLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS cluster and workers for a minute or two; skipped in -short mode")
	}
	ctx := t.Context()
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	nodes := startCluster(t)
	byName := map[string]*natsServer{}
	for _, n := range nodes {
		byName[n.name] = n
	}
	qaddr := qdranttest.Start(t)
	const jobs = 24
	looks := []string{"testsrc2", "smptehdbars", "mandelbrot", "rgbtestsrc"}
	var paths []string
	for i := range jobs {
		paths = append(paths, clips.MakeT(t, dir, clips.Spec{Name: fmt.Sprintf("c%02d", i), Video: looks[i%len(looks)],
			Audio: fmt.Sprintf("sine=frequency=%d", 220+31*i), Seconds: 3, Width: 320, Height: 240}))
	}

	var workers []*workerProc
	for range 2 {
		w := &workerProc{log: &bytes.Buffer{}}
		w.cmd = exec.Command(bin, "worker", "--nats", seeds(nodes), "--qdrant", qaddr, "--concurrency", "1", "--replicas", "3",
			"--ack-wait", "4s", "--max-attempts", "20", "--drain-timeout", "2s", "--metrics", "")
		w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	defer func() {
		for _, w := range workers {
			_ = w.cmd.Process.Signal(syscall.SIGTERM)
			_ = w.cmd.Wait()
		}
	}()

	nc, err := nats.Connect(seeds(nodes), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var statuses *queue.Statuses
	// The workers' topology is whole once its last part, the backfill
	// lane's consumer, is there.
	for ready := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if _, err = js.Consumer(ctx, queue.StreamJobs, queue.ConsumerBackfill); err == nil {
			if statuses, err = queue.OpenStatuses(ctx, js); err == nil {
				break
			}
		}
		if time.Now().After(ready) {
			for _, n := range nodes {
				t.Logf("%s: %s", n.name, tail(n.log.String(), 3000))
			}
			t.Fatalf("the workers did not create the topology: %v\n%s", err, tail(workers[0].log.String(), 2000))
		}
	}
	for _, name := range []string{queue.StreamJobs, queue.StreamDLQ, queue.StreamEvents, "KV_" + queue.BucketVideos, "KV_" + queue.BucketContent, "OBJ_" + queue.BucketDeadJobs} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := s.Info(ctx); err != nil || info.Config.Replicas != 3 {
			t.Fatalf("%s: %v replicas (%v), want 3", name, info.Config.Replicas, err)
		}
	}
	if out, code := cli(t, ctx, append([]string{"submit", "--backfill", "--nats", seeds(nodes)}, paths...)...); code != 0 {
		t.Fatalf("submit: exit %d: %s", code, out)
	}

	ids := make([]string, jobs)
	for i, p := range paths {
		ids[i] = strings.TrimSuffix(filepath.Base(p), ".mp4")
	}
	final := map[string]queue.Status{}
	poll := func() {
		for _, id := range ids {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := statuses.Get(gctx, id)
			cancel()
			if err == nil && (st.State == queue.StateIndexed || st.State == queue.StateFailed) {
				final[id] = st
			}
		}
	}
	// The chaos: the leader dies a quarter of the way through and comes
	// back once another node leads; a follower dies halfway and comes back
	// a few seconds later. Leaders are counted as they change.
	elections, leader := 0, ""
	step := 0
	deadline := time.Now().Add(5 * time.Minute)
	for (len(final) < jobs || step < 4) && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		poll()
		if l := streamLeader(ctx, js); l != "" && l != leader {
			if leader != "" {
				elections++
			}
			leader = l
		}
		switch {
		case step == 0 && len(final) >= jobs/4 && leader != "":
			byName[leader].kill()
			step++
		case step == 1 && elections >= 1 && time.Since(killedAny(nodes)) > 3*time.Second:
			// Back only once another node leads: the failover happened.
			restartStopped(nodes)
			step++
		case step == 2 && len(final) >= jobs/2 && leader != "":
			for _, n := range nodes {
				if n.name != leader {
					n.kill()
					break
				}
			}
			step++
		case step == 3 && time.Since(killedAny(nodes)) > 3*time.Second:
			restartStopped(nodes)
			step++
		}
	}
	kills := 0
	for _, n := range nodes {
		kills += n.kills
	}
	if len(final) < jobs {
		for i, w := range workers {
			t.Logf("worker %d: %s", i, tail(w.log.String(), 2000))
		}
		t.Fatalf("only %d of %d jobs settled (step %d)", len(final), jobs, step)
	}
	if step < 4 || kills != 2 || elections < 1 {
		t.Fatalf("the chaos did not happen as planned: step %d, %d kills, %d elections", step, kills, elections)
	}

	// Let the restarted follower catch up before reading the streams.
	for healthy := time.Now().Add(time.Minute); !clusterCurrent(ctx, js); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(healthy) {
			t.Fatal("the cluster's streams did not get a leader and three current replicas again within a minute")
		}
	}

	// Exactly once: each video's points in the index are the ones its
	// status counts, one video point each, and nothing dead-lettered.
	ix, err := app.OpenIndex(ctx, app.Config{Qdrant: &qdrant.Config{Addr: qaddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	lost, duplicates, processedTwice := 0, 0, 0
	for _, id := range ids {
		st := final[id]
		if st.State != queue.StateIndexed {
			lost++
			t.Errorf("%s: %s", id, st.Line())
			continue
		}
		want := 0
		for _, n := range st.Spaces {
			want += n
		}
		got, err := ix.Count(ctx, index.Segments, index.Filter{VideoIDs: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		videos, _ := ix.Count(ctx, index.Videos, index.Filter{VideoIDs: []string{id}})
		if got != want || videos != 1 {
			duplicates++
			t.Errorf("%s: %d segment points (status counts %d), %d video points", id, got, want, videos)
		}
		if st.Attempts > 1 {
			processedTwice++
		}
	}
	// Reads of the streams right after a restart may meet a group still
	// settling ("no responders"): each is retried for a while.
	var dead uint64
	if err := retrying(ctx, func(ctx context.Context) error {
		dlq, err := js.Stream(ctx, queue.StreamDLQ)
		if err != nil {
			return err
		}
		info, err := dlq.Info(ctx)
		if err == nil {
			dead = info.State.Msgs
		}
		return err
	}); err != nil {
		t.Fatal(err)
	} else if dead != 0 {
		t.Errorf("%d dead letters, want none", dead)
	}
	// Downstream consumers hear of every video once.
	var events, announced int
	if err := retrying(ctx, func(ctx context.Context) (err error) {
		events, announced, err = indexedEvents(ctx, js)
		return err
	}); err != nil {
		t.Fatal(err)
	} else if announced != jobs || events != jobs {
		t.Errorf("%d indexed events announcing %d videos, want one for each of %d", events, announced, jobs)
	}
	t.Logf("cluster: %d jobs, %d kills (the jobs leader, then a follower), %d leader elections, %d jobs attempted more than once, duplicates %d, lost %d, indexed events %d",
		jobs, kills, elections, processedTwice, duplicates, lost, events)
}

// clusterCurrent reports whether every stream of the topology has a
// leader and two current followers.
func clusterCurrent(ctx context.Context, js jetstream.JetStream) bool {
	for _, name := range []string{queue.StreamJobs, queue.StreamDLQ, queue.StreamEvents, "KV_" + queue.BucketVideos} {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := js.Stream(ctx, name)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
	}
	return true
}

func killedAny(nodes []*natsServer) time.Time {
	var last time.Time
	for _, n := range nodes {
		if n.stopped && n.killedAt.After(last) {
			last = n.killedAt
		}
	}
	return last
}

func restartStopped(nodes []*natsServer) {
	for _, n := range nodes {
		if n.stopped {
			n.start()
		}
	}
}

// retrying runs read until it succeeds, for up to a minute.
func retrying(ctx context.Context, read func(context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := read(attempt)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// indexedEvents reads every indexed event the events stream holds, as
// downstream consumers would, and returns how many there are and how many
// distinct videos they announce. It reads up to the count the stream
// reports, so a slow fetch right after a restart is not taken for the end.
func indexedEvents(ctx context.Context, js jetstream.JetStream) (events, videos int, err error) {
	s, err := js.Stream(ctx, queue.StreamEvents)
	if err != nil {
		return 0, 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(queue.SubjectIndexed))
	if err != nil {
		return 0, 0, err
	}
	want := int(info.State.Subjects[queue.SubjectIndexed])
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{queue.SubjectIndexed}})
	if err != nil {
		return 0, 0, err
	}
	seen := map[string]bool{}
	for events < want {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return events, len(seen), fmt.Errorf("read %d of %d indexed events: %w", events, want, err)
		}
		events++
		var ev queue.Event
		if json.Unmarshal(msg.Data(), &ev) == nil && ev.State == queue.StateIndexed {
			seen[ev.VideoID] = true
		}
	}
	return events, len(seen), nil
}
