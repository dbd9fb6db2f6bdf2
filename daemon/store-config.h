/* SPDX-License-Identifier: MIT */
/* [store NAME] sections of chuted.conf into the stores table (at start). */
#pragma once

struct daemon;

/* Add or update the stores row of every [store NAME] section; logs what it
 * cannot take. Loop thread, before the replicator reads the table. */
void store_config_sync(struct daemon *d);
