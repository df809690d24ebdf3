// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/util/secret.hpp"

#include <filesystem>

// Hands the key to the next step (cryptsetup --key-file=-) through a pipe.
// The key must never reach a file system or a terminal, so only pipes
// (FIFOs) and sockets are accepted as destinations.
namespace cvm::agent {

// Checks, before any attestation, that `fd` is an open pipe or socket.
// Throws cvm::Error(usage) otherwise.
void check_key_fd(int fd);

// Checks, before any attestation, that `path` is an existing FIFO (not a
// symlink). Throws cvm::Error(usage) otherwise.
void check_key_fifo(const std::filesystem::path &path);

// Writes all of `key` to the open descriptor `fd` and closes it. Throws
// cvm::Error(usage) if `fd` is not open or is not a pipe or socket (regular
// file, terminal, device), and cvm::Error(io) on write failure (EPIPE etc.).
void write_key_to_fd(int fd, const SecretBytes &key);

// Opens the existing FIFO `path` for writing (no O_CREAT, no symlinks; blocks
// until a reader opens it) and writes the key as above. Throws cvm::Error if
// `path` is not a FIFO.
void write_key_to_fifo(const std::filesystem::path &path, const SecretBytes &key);

} // namespace cvm::agent
