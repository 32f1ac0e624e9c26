/*
 * main.c - wiring of the pipeline (DESIGN.md, "Data flow"); nothing else.
 */
#include <config.h>
int main(void)
{
    return 70;
}
