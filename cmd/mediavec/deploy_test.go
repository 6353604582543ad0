package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/worker"
)

// The deployment files cannot be applied here (no Docker engine, no
// cluster); these tests read them and check what would otherwise break at
// deploy time: probes, resources, non-root, the KEDA triggers' real names,
// ports, config keys and image contents against this binary.

const deployDir = "../../deploy"

// yamlDocs parses every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks maps and lists: dig(doc, "spec", "template", "spec").
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// commandFlags returns the flag names of a command, read from its --help.
func commandFlags(t *testing.T, name string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{name, "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("%s --help: exit %d", name, code)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(errOut.String(), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// envKnown reports whether MEDIAVEC_X is a flag of one of the commands, or
// one of the variables the binary reads directly.
func envKnown(t *testing.T, key string, commands ...string) bool {
	direct := []string{"MEDIAVEC_MODELS", "MEDIAVEC_ORT_LIB", "MEDIAVEC_DEBUG", "MEDIAVEC_CONFIG", "MEDIAVEC_API_TOKEN", "MEDIAVEC_QDRANT_API_KEY"}
	if slices.Contains(direct, key) {
		return true
	}
	flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(key, "MEDIAVEC_"), "_", "-"))
	for _, c := range commands {
		if slices.Contains(commandFlags(t, c), flag) {
			return true
		}
	}
	return false
}

func k8sDocs(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(deployDir, "k8s", "base", "*.yaml"))
	byName := map[string]map[string]any{}
	for _, f := range files {
		for _, d := range yamlDocs(t, f) {
			if kind, _ := d["kind"].(string); kind != "" {
				name, _ := dig(d, "metadata", "name").(string)
				byName[kind+"/"+name] = d
			}
		}
	}
	return byName
}

func TestKubernetesManifests(t *testing.T) {
	docs := k8sDocs(t)
	kust := yamlDocs(t, filepath.Join(deployDir, "k8s", "base", "kustomization.yaml"))[0]
	for _, r := range kust["resources"].([]any) {
		if _, err := os.Stat(filepath.Join(deployDir, "k8s", "base", r.(string))); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
		}
	}
	for _, o := range []string{"small", "large"} {
		k := yamlDocs(t, filepath.Join(deployDir, "k8s", "overlays", o, "kustomization.yaml"))[0]
		if !slices.Contains(k["resources"].([]any), any("../../base")) {
			t.Errorf("overlay %s does not build on the base", o)
		}
		for _, p := range k["patches"].([]any) {
			kind, _ := dig(p, "target", "kind").(string)
			name, _ := dig(p, "target", "name").(string)
			if docs[kind+"/"+name] == nil {
				t.Errorf("overlay %s patches %s/%s, which the base does not have", o, kind, name)
			}
		}
	}

	cm := docs["ConfigMap/mediavec-config"]
	if cm == nil {
		t.Fatal("no ConfigMap mediavec-config")
	}
	for key := range cm["data"].(map[string]any) {
		if !envKnown(t, key, "worker", "api") {
			t.Errorf("ConfigMap key %s is no flag of mediavec worker or api", key)
		}
	}
	drain, err := time.ParseDuration(cm["data"].(map[string]any)["MEDIAVEC_DRAIN_TIMEOUT"].(string))
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"mediavec-worker", "mediavec-api"} {
		d := docs["Deployment/"+name]
		if d == nil {
			t.Fatalf("no Deployment %s", name)
		}
		pod := dig(d, "spec", "template", "spec")
		if dig(pod, "securityContext", "runAsNonRoot") != true {
			t.Errorf("%s: pod does not run as non-root", name)
		}
		c := dig(pod, "containers", 0)
		if dig(c, "image") != "mediavec" {
			t.Errorf("%s: image %v, want the kustomization's mediavec", name, dig(c, "image"))
		}
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			if dig(c, probe) == nil {
				t.Errorf("%s: no %s", name, probe)
			}
		}
		for _, r := range []string{"cpu", "memory"} {
			if dig(c, "resources", "requests", r) == nil || dig(c, "resources", "limits", "memory") == nil {
				t.Errorf("%s: resources %v", name, dig(c, "resources"))
			}
		}
		args := dig(c, "args").([]any)
		cmd := args[0].(string)
		flags := commandFlags(t, cmd)
		for _, a := range args[1:] {
			if s := a.(string); strings.HasPrefix(s, "--") && !slices.Contains(flags, strings.TrimPrefix(s, "--")) {
				t.Errorf("%s: mediavec %s has no flag %s", name, cmd, s)
			}
		}
		// The probes' port is the container's, and the one the process
		// listens on.
		port := int(dig(c, "ports", 0, "containerPort").(int))
		portName := dig(c, "ports", 0, "name")
		if dig(c, "livenessProbe", "httpGet", "port") != portName {
			t.Errorf("%s: probes on port %v, the container's port is %v", name, dig(c, "livenessProbe", "httpGet", "port"), portName)
		}
		if !strings.Contains(strings.Join(toStrings(args), " "), ":"+strconv.Itoa(port)) {
			t.Errorf("%s: the process does not listen on its container port %d (args %v)", name, port, args)
		}
		// The API deletes thumbnails; the workers write them.
		for _, vm := range dig(c, "volumeMounts").([]any) {
			if dig(vm, "name") == "thumbs" && dig(vm, "readOnly") == true {
				t.Errorf("%s mounts the thumbnails read-only", name)
			}
		}
		if name == "mediavec-worker" {
			grace := time.Duration(dig(pod, "terminationGracePeriodSeconds").(int)) * time.Second
			if grace <= drain {
				t.Errorf("worker grace period %s is not longer than the drain deadline %s", grace, drain)
			}
		}
	}

	so := docs["ScaledObject/mediavec-worker"]
	if so == nil {
		t.Fatal("no ScaledObject")
	}
	if target := dig(so, "spec", "scaleTargetRef", "name"); docs["Deployment/"+target.(string)] == nil || target != "mediavec-worker" {
		t.Errorf("ScaledObject targets %v", target)
	}
	var consumers []string
	for _, tr := range dig(so, "spec", "triggers").([]any) {
		// The chart exposes the monitoring port on its headless Service.
		if ep, _ := dig(tr, "metadata", "natsServerMonitoringEndpoint").(string); !strings.Contains(ep, "headless") || !strings.HasSuffix(ep, ":8222") {
			t.Errorf("KEDA reads NATS monitoring at %q: want the headless Service's port 8222", ep)
		}
		if dig(tr, "type") != "nats-jetstream" || dig(tr, "metadata", "stream") != queue.StreamJobs {
			t.Errorf("trigger %v: want nats-jetstream on %s", tr, queue.StreamJobs)
		}
		consumers = append(consumers, dig(tr, "metadata", "consumer").(string))
	}
	slices.Sort(consumers)
	if want := []string{queue.ConsumerBackfill, queue.ConsumerUpload}; !slices.Equal(consumers, want) {
		t.Errorf("KEDA watches consumers %v, the queue has %v", consumers, want)
	}
	if pdb := docs["PodDisruptionBudget/mediavec-worker"]; pdb == nil || dig(pdb, "spec", "selector", "matchLabels", "app.kubernetes.io/name") != "mediavec-worker" {
		t.Error("no PodDisruptionBudget for the workers")
	}
	svc := docs["Service/mediavec-api"]
	if dig(svc, "spec", "ports", 0, "targetPort") != "http" || dig(docs["HorizontalPodAutoscaler/mediavec-api"], "spec", "scaleTargetRef", "name") != "mediavec-api" {
		t.Error("the API's Service or HPA does not point at the API")
	}
}

func toStrings(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	return out
}

func TestComposeFile(t *testing.T) {
	doc := yamlDocs(t, filepath.Join(deployDir, "compose.yaml"))[0]
	services := doc["services"].(map[string]any)
	nats, workers := 0, 0
	for name, s := range services {
		switch img, _ := dig(s, "image").(string); {
		case strings.HasPrefix(img, "nats:"):
			nats++
			if cmd := strings.Join(toStrings(dig(s, "command").([]any)), " "); !strings.Contains(cmd, "--jetstream") || !strings.Contains(cmd, "--routes") {
				t.Errorf("%s is not a JetStream cluster node: %s", name, cmd)
			}
		case img == "mediavec:dev":
			cmd := toStrings(dig(s, "command").([]any))
			if cmd[0] == "worker" {
				workers++
			}
			for key := range dig(s, "environment").(map[string]any) {
				if !envKnown(t, key, cmd[0], "health") {
					t.Errorf("%s: environment %s is no flag of mediavec %s", name, key, cmd[0])
				}
			}
			for _, sec := range toStrings(dig(s, "secrets").([]any)) {
				file := dig(doc, "secrets", sec, "file").(string)
				if _, err := os.Stat(filepath.Join(deployDir, file)); err != nil {
					t.Errorf("%s: secret %s: %v", name, sec, err)
				}
			}
			for _, v := range toStrings(dig(s, "volumes").([]any)) {
				vol := strings.SplitN(v, ":", 2)[0]
				if _, ok := dig(doc, "volumes").(map[string]any)[vol]; !ok {
					t.Errorf("%s: volume %s is not declared", name, vol)
				}
			}
			if dig(s, "build", "dockerfile") != "deploy/Dockerfile" {
				t.Errorf("%s is not built from deploy/Dockerfile", name)
			}
		}
	}
	if nats != 3 || workers != 2 || services["api"] == nil || services["qdrant"] == nil {
		t.Errorf("compose has %d NATS nodes, %d workers, api %v, qdrant %v", nats, workers, services["api"] != nil, services["qdrant"] != nil)
	}
	if ports := toStrings(dig(services["api"], "ports").([]any)); !slices.Contains(ports, "8080:8080") || dig(services["api"], "environment", "MEDIAVEC_HTTP") != "0.0.0.0:8080" {
		t.Errorf("api ports %v and listen address disagree", ports)
	}
}

func TestDockerfile(t *testing.T) {
	f, err := os.Open(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var entrypoint, cmd, health string
	var envKeys, converted []string
	exposes := map[string]bool{}
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(text, "\\") {
			line += strings.TrimSuffix(text, "\\") + " "
			continue
		}
		line += text
		full, fields := line, strings.Fields(line)
		line = ""
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "COPY":
			args := fields[1:]
			if strings.HasPrefix(args[0], "--from") {
				continue
			}
			// Every source copied from the build context (the repository
			// root) exists.
			for _, src := range args[:len(args)-1] {
				if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		case "CMD":
			cmd = strings.Join(fields[1:], " ")
		case "HEALTHCHECK":
			health = strings.Join(fields[1:], " ")
		case "EXPOSE":
			for _, p := range fields[1:] {
				exposes[p] = true
			}
		case "RUN":
			// for m in NAME…; do … import-tfjs --for "$m"
			if i := slices.Index(fields, "in"); i > 0 && fields[i-2] == "for" && strings.Contains(full, "import-tfjs") {
				for _, f := range fields[i+1:] {
					converted = append(converted, strings.TrimSuffix(f, ";"))
					if strings.HasSuffix(f, ";") {
						break
					}
				}
			}
		case "ENV":
			for _, kv := range fields[1:] {
				if k, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "MEDIAVEC_") {
					envKeys = append(envKeys, k)
				}
			}
		}
	}
	if entrypoint != `["mediavec"]` {
		t.Errorf("ENTRYPOINT %s, want [\"mediavec\"]", entrypoint)
	}
	var cmdArgs []string
	if err := json.Unmarshal([]byte(cmd), &cmdArgs); err != nil || len(cmdArgs) == 0 || len(commandFlags(t, cmdArgs[0])) == 0 {
		t.Errorf("CMD %s is not a mediavec command", cmd)
	}
	if !strings.Contains(health, `CMD ["mediavec", "health"]`) {
		t.Errorf("HEALTHCHECK %s", health)
	}
	for _, k := range envKeys {
		if !envKnown(t, k, "worker", "api", "health") {
			t.Errorf("ENV %s is no flag of mediavec worker, api or health", k)
		}
	}
	if !exposes["8080"] || !exposes["9090"] {
		t.Errorf("EXPOSE %v: want the API's 8080 and the worker's metrics 9090", exposes)
	}
	// Every shipped model made from TF.js is converted in the image.
	for name := range encoders.TFJSImports {
		if !slices.Contains(converted, name) {
			t.Errorf("the image does not convert %s (models import-tfjs --for %s)", name, name)
		}
	}
}

// The dashboard and the alert rules only use metrics the binary exports.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(reg)
	worker.RegisterBatcher(reg, encoders.SpaceAudioSpeech, func() encoders.BatchStats { return encoders.BatchStats{} })
	known := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		known[mf.GetName()] = true
	}
	for _, n := range m.Names() { // vectors without a value yet are not gathered
		known[n] = true
	}
	if !known["mediavec_jobs_total"] || !known["mediavec_stage_seconds"] {
		t.Fatalf("metric names read from the worker: %v", known)
	}
	check := func(where, expr string) {
		for _, m := range regexp.MustCompile(`mediavec_[a-z_]+`).FindAllString(expr, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			if !known[m] && !known[base] {
				t.Errorf("%s uses %s, which the worker does not export", where, m)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "mediavec-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Panels) < 6 {
		t.Errorf("%d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	rules := yamlDocs(t, filepath.Join(deployDir, "prometheus", "alerts.yaml"))[0]
	var names []string
	for _, r := range dig(rules, "groups", 0, "rules").([]any) {
		names = append(names, dig(r, "alert").(string))
		check("alert "+dig(r, "alert").(string), dig(r, "expr").(string))
	}
	for _, want := range []string{"MediavecDeadLettersGrowing", "MediavecLaneLag", "MediavecErrorRate", "MediavecNoProgress"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s", want)
		}
	}
	for _, f := range []string{"nats-values.yaml", "qdrant-values.yaml"} {
		doc := yamlDocs(t, filepath.Join(deployDir, "helm", f))[0]
		replicas := dig(doc, "replicaCount")
		if f == "nats-values.yaml" {
			replicas = dig(doc, "config", "cluster", "replicas")
		}
		if replicas != 3 {
			t.Errorf("%s: %v replicas, want 3", f, replicas)
		}
	}
}
