/* clock.h - the one clock lorafit measures time with. */
#ifndef LORAFIT_CLOCK_H
#define LORAFIT_CLOCK_H

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean
 * anything, and they never go backwards when the wall clock is set. */
double clock_seconds(void);

#endif
