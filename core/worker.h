/*
 * worker.h -- a worker process (worker.c).
 */
#ifndef KURIR_CORE_WORKER_H
#define KURIR_CORE_WORKER_H

struct boot;

/* Run a worker for b's services in this (freshly forked) process. */
__attribute__((noreturn)) void worker_main(struct boot *b);

#endif
