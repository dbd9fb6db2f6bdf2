/* SPDX-License-Identifier: MIT */
/* Pause points for integration tests that must act at an exact moment of a
 * job (swap a file between the walk and the read, a directory for a symlink
 * during a restore). Inert unless CHUTE_TEST_HOOK_DIR is set in chuted's
 * environment and the test armed the point. Failure points make one step
 * of the daemon fail on purpose, to test that a failure changes nothing. */
#pragma once

#include <stdbool.h>

/* If DIR/POINT.wait exists: create DIR/POINT.reached, wait (at most 120 s)
 * until the test removes POINT.wait, then remove POINT.reached. */
void test_hook_pause(const char *point);
/* True if DIR/POINT.wait exists (the point would pause). */
bool test_hook_armed(const char *point);
/* True if DIR/POINT.fail exists: the caller then fails that step (-EIO). */
bool test_hook_fail(const char *point);
