// Package slurm holds no code: this folder has the Slurm job array that
// reprocesses an archive (dataman-array.sbatch) and the script that starts
// a private single-node Slurm on localhost (single-node.sh). The package's
// test submits the array to such a cluster over a synthetic archive and
// checks its outputs against a single-machine `dataman condition`; its
// benchmark compares the two.
package slurm
