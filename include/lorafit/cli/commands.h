/* commands.h - one function per subcommand, one file per command
 * (src/cmd_<name>.c). Each takes argv with argv[0] = the command's name,
 * prints its own --help to stdout, and returns the process exit code:
 * 0 success, 1 a failure while running, 2 bad usage or bad input. */
#ifndef LORAFIT_COMMANDS_H
#define LORAFIT_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_count_params(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_random_model(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_convert_adapter(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_grid(int argc, char **argv);

#endif
