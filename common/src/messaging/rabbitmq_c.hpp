#pragma once

// rabbitmq-c, whichever header layout is installed: 0.11 (Debian 12) puts amqp.h at the top
// level, 0.12 and later under rabbitmq-c/. Only src/messaging includes this.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/ssl_socket.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#endif
