#include <stdio.h>
#include "version.h"

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "world";
  printf("hello, %s (hello %s)\n", name, HELLO_VERSION);
  return 0;
}
