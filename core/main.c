/* main.c -- kurird: placeholder until the core lands in this commit series. */
int
main(void)
{
	return 0;
}
