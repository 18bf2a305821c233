// Package frame is dataman's vocabulary for a raw frame: what its file name
// says (channel, observing date, sequence number), the observing-night rules
// of the camera servers, and dataMan's folder layout (dataDir/<chan>/,
// procDir/<obsdate>/, repoDir/). Everything else imports it; it imports
// nothing of dataman's.
package frame
