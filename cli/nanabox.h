/* gpupv nanabox: shows and sets a NanaBox VM's GPU assignment in its configuration file. */
#ifndef GPUPV_CLI_NANABOX_H
#define GPUPV_CLI_NANABOX_H

/* The command; 0, 1 (the file could not be read, is not a NanaBox configuration, or could not
 * be written) or 2 (usage). */
int nanabox_command(int argc, char **argv);

#endif
