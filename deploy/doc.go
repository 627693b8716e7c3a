// Package deploy holds no code: its tests check the deployment files of
// the org scan (docs/org-scans.md) that nothing else runs here: the
// Kubernetes manifests in deploy/kubernetes, the GitHub Actions workflow
// docs/examples/org-scan.yml (with actionlint) and the Dockerfile (no
// container engine is needed: its build step runs as is).
package deploy
