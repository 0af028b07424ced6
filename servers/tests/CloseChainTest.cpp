// The requests a close of the completion model hands the kernel (servers/CloseChain.h), read
// from the submission queue before they are submitted. What matters to the kernel is how a
// cancel names its target: by user_data the kernel looks in one bucket of its cancel hash; by
// descriptor it walks every request pending on the ring, so that with one multishot recv per
// idle connection each close cost as much as all the idle connections together (issue 19).
#include <sys/socket.h>

#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "CloseChain.h"

namespace {

constexpr int kFd = 42;
constexpr std::uint64_t kRecv = 0x1203, kSend = 0x1204, kClose = 0x1205, kIgnored = 0x06;

class CloseChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (int rc = io_uring_queue_init(8, &ring_, 0); rc < 0)
      GTEST_SKIP() << "io_uring unavailable here: " << rc;
    ready_ = true;
  }
  void TearDown() override {
    if (ready_) io_uring_queue_exit(&ring_);  // nothing was submitted
  }

  // The chain's SQEs as queued, in order.
  std::vector<io_uring_sqe> queue(const mux::CloseChain& chain) {
    mux::queue_close_chain(ring_, chain, counted_);
    std::vector<io_uring_sqe> out;
    for (unsigned i = ring_.sq.sqe_head; i != ring_.sq.sqe_tail; ++i)
      out.push_back(ring_.sq.sqes[i & ring_.sq.ring_mask]);
    return out;
  }

  io_uring ring_{};
  bool ready_ = false;
  mux::SqeCounts counted_;
};

TEST_F(CloseChainTest, CancelsTheConnectionsOwnRequestsByIdentityNeverByDescriptor) {
  const auto sqes = queue({kFd, kRecv, kSend, kClose, kIgnored});
  std::set<std::uint64_t> cancelled;
  for (const io_uring_sqe& sqe : sqes) {
    if (sqe.opcode != IORING_OP_ASYNC_CANCEL) continue;
    EXPECT_EQ(sqe.cancel_flags & (IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ANY |
                                  IORING_ASYNC_CANCEL_FD_FIXED | IORING_ASYNC_CANCEL_ALL),
              0u)
        << "a cancel that the kernel matches by walking every pending request";
    cancelled.insert(sqe.addr);
  }
  EXPECT_EQ(cancelled, (std::set<std::uint64_t>{kRecv, kSend}));
  EXPECT_EQ(counted_.other, 2u);
}

TEST_F(CloseChainTest, ShutdownDrainThenCloseEachAfterThePreviousWhateverItsResult) {
  const auto sqes = queue({kFd, kRecv, std::nullopt, kClose, kIgnored});
  ASSERT_EQ(sqes.size(), 4u);
  EXPECT_EQ(sqes[0].opcode, IORING_OP_ASYNC_CANCEL);
  EXPECT_EQ(sqes[1].opcode, IORING_OP_SHUTDOWN);
  EXPECT_EQ(sqes[1].len, static_cast<unsigned>(SHUT_WR)) << "the FIN, and reading goes on";
  EXPECT_EQ(sqes[2].opcode, IORING_OP_RECV);
  EXPECT_EQ(sqes[2].msg_flags & MSG_DONTWAIT, static_cast<unsigned>(MSG_DONTWAIT));
  EXPECT_EQ(sqes[3].opcode, IORING_OP_CLOSE);
  for (std::size_t i = 1; i < sqes.size(); ++i) EXPECT_EQ(sqes[i].fd, kFd) << i;
  for (std::size_t i = 0; i + 1 < sqes.size(); ++i) {
    EXPECT_TRUE(sqes[i].flags & IOSQE_IO_HARDLINK) << i;
    EXPECT_EQ(sqes[i].user_data, kIgnored) << i;
  }
  EXPECT_FALSE(sqes.back().flags & (IOSQE_IO_HARDLINK | IOSQE_IO_LINK)) << "the chain ends";
  EXPECT_EQ(sqes.back().user_data, kClose);
}

TEST_F(CloseChainTest, NothingArmedNothingCancelled) {
  const auto sqes = queue({kFd, std::nullopt, std::nullopt, kClose, kIgnored});
  ASSERT_EQ(sqes.size(), 3u);
  EXPECT_EQ(sqes[0].opcode, IORING_OP_SHUTDOWN);
  EXPECT_EQ(counted_.other, 0u);
  EXPECT_EQ(counted_.close, 2u);
  EXPECT_EQ(counted_.recv, 1u);
}

}  // namespace
