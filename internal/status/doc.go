// Package status is the read-only view behind dataman status: whether
// listen runs and what it is doing (its control files), every frame of a
// night as the judge sees it, counted per channel, the free space of the
// store and of repoDir, and what the last sweep did; and Check, which turns
// that view into a Nagios/Icinga plugin's answer. It creates, changes and
// locks nothing.
package status
