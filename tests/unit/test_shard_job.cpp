// shard_job: the server's part of `ltest -n` over gateway kernels (work
// stealing, a helper's reports held per test, a dead helper's tests run again once).
#include <catch2/catch.hpp>

#include "shard_job.hpp"

using ltest::shard_job;
using nlohmann::json;

namespace {

std::vector<std::string> ids(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back("t.py::test_" + std::to_string(i));
    return out;
}

json finished(const std::string& id) {
    return json::array({{{"event", "logstart"}, {"nodeid", id}, {"location", json::array({"t.py", 0, id})}},
                        {{"event", "logreport"}, {"data", {{"nodeid", id}, {"outcome", "passed"}}}},
                        {{"event", "logfinish"}, {"nodeid", id}, {"location", json::array({"t.py", 0, id})}}});
}

}  // namespace

TEST_CASE("shard_job hands every id out once, in smaller batches as the queue empties") {
    shard_job job;
    job.add_helper(1);
    CHECK(job.take(1, 2, 2).empty());  // nothing before the lead's ids
    CHECK_FALSE(job.dispatch_done());
    job.set_ids(ids(200));
    std::vector<std::string> seen;
    std::size_t first = 0, last = 0;
    while (!job.dispatch_done()) {
        for (int kernel : {0, 1})
            for (auto& batch : job.take(kernel, 2, 2)) {
                REQUIRE(!batch.empty());
                if (!first) first = batch.size();
                last = batch.size();
                seen.insert(seen.end(), batch.begin(), batch.end());
            }
    }
    CHECK(seen == ids(200));
    CHECK(first == 12);  // 200 / (4 batches per worker * 4 workers)
    CHECK(last == 1);
    CHECK(job.handed_out() == 200);
}

TEST_CASE("shard_job passes a helper's test on to the lead only once it finished") {
    shard_job job;
    job.add_helper(1);
    job.set_ids(ids(2));
    auto batches = job.take(1, 1, 1);
    REQUIRE(batches.size() == 1);
    json events = finished("t.py::test_0");
    json partial = json::array({finished("t.py::test_1")[0]});
    job.from_helper(1, partial);
    CHECK(job.take_events().empty());
    job.from_helper(1, events);
    CHECK(job.take_events().size() == 3);
    job.from_helper(1, json::array({{{"event", "warning"}, {"nodeid", ""}, {"message", "w"}}}));
    CHECK(job.take_events().size() == 1);  // a warning goes on at once
}

TEST_CASE("shard_job runs a dead helper's unfinished tests again once, and says so") {
    shard_job job;
    job.add_helper(1);
    job.set_ids(ids(3));
    auto batches = job.take(1, 1, 1);
    REQUIRE(batches.at(0).size() == 1);
    job.from_helper(1, json::array({finished(batches[0][0])[0]}));  // started, not finished
    CHECK_FALSE(job.all_done());
    job.helper_lost(1, "gateway kernel 2 stopped");
    auto notes = job.take_notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("1 unfinished test(s) run again") != std::string::npos);
    CHECK(job.take_events().empty());  // its partial events are dropped
    std::vector<std::string> rest;
    for (auto& b : job.take(0, 3, 1)) rest.insert(rest.end(), b.begin(), b.end());
    CHECK(rest.size() == 3);
    CHECK(rest.front() == batches[0][0]);  // first in the queue
    CHECK(job.all_done());
}

TEST_CASE("shard_job reports a test lost twice instead of running it a third time") {
    shard_job job;
    job.add_helper(1);
    job.add_helper(2);
    job.set_ids(ids(1));
    job.take(1, 1, 1);
    job.helper_lost(1, "first");
    job.take_notes();
    CHECK(job.take(2, 1, 1).at(0).at(0) == "t.py::test_0");
    job.helper_lost(2, "second");
    json lost = job.take_lost();
    REQUIRE(lost.size() == 1);
    CHECK(lost[0][0] == "t.py::test_0");
    CHECK(job.dispatch_done());
}

TEST_CASE("shard_job: a stopped job hands nothing out") {
    shard_job job;
    job.set_ids(ids(5));
    job.stop();
    CHECK(job.take(0, 2, 2).empty());
    CHECK(job.dispatch_done());
    CHECK(job.all_done());
}

TEST_CASE("shard_job: when the lead's kernel dies, the next lead gets every report so far and the lead's unfinished tests") {
    shard_job job;
    job.set_lead(0);
    job.add_helper(1);
    job.set_ids(ids(4));
    auto lead_batch = job.take(0, 1, 1).at(0);   // the lead's own
    auto helper_batch = job.take(1, 1, 1).at(0);
    REQUIRE(lead_batch.size() == 1);
    REQUIRE(helper_batch.size() == 1);
    job.from_helper(1, finished(helper_batch[0]));
    CHECK(job.take_events().size() == 3);           // the old lead had the helper's test
    auto second = job.take(0, 1, 1).at(0);          // the lead finished its first test, started a second
    job.from_lead(finished(lead_batch[0]));
    job.from_lead(json::array({finished(second[0])[0]}));
    REQUIRE(job.lead_lost("gateway kernel 1 stopped", 2));
    CHECK(job.lead() == -1);
    json replay = job.take_events();
    REQUIRE(replay.size() == 6);  // both finished tests, whole; nothing of the cut-short one
    CHECK(replay[0]["nodeid"] == helper_batch[0]);
    CHECK(replay[3]["nodeid"] == lead_batch[0]);
    auto notes = job.take_notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("1 unfinished test(s) run again") != std::string::npos);
    job.set_lead(1);
    CHECK(job.take(1, 1, 1).at(0).at(0) == second[0]);  // first in the queue
    // A lead that dies once every kernel has led ends the job.
    CHECK_FALSE(job.lead_lost("gateway kernel 2 stopped", 2));
}

TEST_CASE("shard_job: a free kernel joins while there are tests to hand out, once unless tests came back") {
    shard_job job;
    job.set_lead(0);
    CHECK_FALSE(job.may_join(1));  // no ids yet: start_sharded's helpers wait for them, a join waits too
    job.set_ids(ids(40));
    CHECK_FALSE(job.may_join(0));  // the lead's
    CHECK(job.may_join(1));
    job.add_helper(1);
    CHECK_FALSE(job.may_join(1));  // running already
    job.take(1, 1, 1);
    job.helper_finished(1);
    CHECK_FALSE(job.may_join(1));  // it had its part
    job.add_helper(2);
    job.take(2, 1, 1);
    job.helper_lost(2, "gateway kernel 3 stopped");
    CHECK(job.may_join(1));  // tests came back
    CHECK(job.may_join(2));  // restarted, it joins again
    while (!job.dispatch_done()) job.take(0, 4, 4);
    CHECK_FALSE(job.may_join(2));  // nothing left
}
