// Package deploy holds no code: this folder has dataman's deployment files
// (systemd units, polkit rule, example environment and configuration, the
// Makefile that installs them), and the package's tests check them with the
// tools that will read them: systemd-analyze, a JavaScript engine, make and
// dataman's own configuration loader.
package deploy
