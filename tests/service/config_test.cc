// Loading the serve configuration (SPEC 5.6): defaults, precedence, errors
// that name the key and the problem, validation, projects, kafka.properties,
// environment and flags.

#include "service/config.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/config_flags.h"
#include "service/config_load.h"
#include "tests/service/temp_dir.h"

namespace consensusd::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using Env = std::map<std::string, std::string>;
using Flags = std::vector<std::pair<std::string, std::string>>;

class ConfigTest : public ::testing::Test {
 protected:
  // Loads `yaml` (written to config.yaml; none if empty) with `env` and `flags`.
  absl::StatusOr<Config> Load(const std::string& yaml, const Env& env = {},
                              const Flags& flags = {}) {
    const std::string path = yaml.empty() ? "" : dir_.Write("config.yaml", yaml);
    return LoadConfig(path, env, flags, &warnings_);
  }
  // Loads with the brokers set by a flag, so that only `flags` are under test.
  absl::StatusOr<Config> LoadFlags(Flags flags) {
    flags.insert(flags.begin(), {"kafka.brokers", "k:9092"});
    return LoadConfig("", {}, flags, &warnings_);
  }
  // The error message of a load that must fail.
  std::string LoadError(const std::string& yaml, const Env& env = {}, const Flags& flags = {}) {
    absl::StatusOr<Config> config = Load(yaml, env, flags);
    EXPECT_FALSE(config.ok());
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(config.status().message());
  }
  std::string FlagError(Flags flags) {
    absl::StatusOr<Config> config = LoadFlags(std::move(flags));
    EXPECT_FALSE(config.ok());
    return config.ok() ? "" : std::string(config.status().message());
  }
  std::string Path() const { return dir_.File("config.yaml"); }

  TempDir dir_;
  std::vector<std::string> warnings_;
};

// --- Defaults -------------------------------------------------------------

TEST_F(ConfigTest, DefaultsMatchSpec) {
  absl::StatusOr<Config> config = LoadFlags({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.group, "consensusd");
  EXPECT_EQ(config->kafka.instance_id, "");
  EXPECT_EQ(config->kafka.labels_topic, "labels");
  EXPECT_EQ(config->kafka.consensus_topic, "labels.consensus");
  EXPECT_EQ(config->kafka.review_topic, "labels.review");
  EXPECT_EQ(config->kafka.dlq_topic, "labels.dlq");
  EXPECT_THAT(config->kafka.properties, IsEmpty());
  EXPECT_EQ(config->http.address, "127.0.0.1:8080");
  EXPECT_EQ(config->http.admin_token, "");
  EXPECT_EQ(config->http.max_body_bytes, size_t{1} << 20);
  EXPECT_EQ(config->metrics.per_worker_limit, 500);
  EXPECT_EQ(config->output.min_change, 0.01);
  EXPECT_EQ(config->model.method, "hds");
  EXPECT_EQ(config->model.sweep_interval_s, 10);
  EXPECT_EQ(config->project_defaults.max_classes, 64);
  EXPECT_THAT(config->project_defaults.classes, IsEmpty());
  EXPECT_THAT(config->projects, IsEmpty());
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(ConfigTest, ModelDefaultsAreTheBatchDefaults) {
  absl::StatusOr<Config> config = LoadFlags({});
  ASSERT_TRUE(config.ok()) << config.status();
  const consensus::AggregateOptions expected;
  const consensus::AggregateOptions fit = config->FitOptions();
  EXPECT_EQ(fit.method, expected.method);
  EXPECT_EQ(fit.prior, expected.prior);
  EXPECT_EQ(fit.diagonal_prior, expected.diagonal_prior);
  EXPECT_EQ(fit.tol, expected.tol);
  EXPECT_EQ(fit.max_iter, expected.max_iter);
  EXPECT_EQ(fit.threads, expected.threads);
  EXPECT_EQ(fit.onecoin_below, expected.onecoin_below);
  const consensus::ReviewThresholds review;
  EXPECT_EQ(config->review.min_confidence, review.min_confidence);
  EXPECT_EQ(config->review.min_answers, review.min_answers);
  const consensus::QualityThresholds quality;
  EXPECT_EQ(config->project_defaults.quality.min_accuracy, quality.min_accuracy);
}

TEST_F(ConfigTest, FitOptionsCarryTheModelSection) {
  absl::StatusOr<Config> config =
      LoadFlags({{"model.method", "onecoin"}, {"model.prior", "0"}, {"model.tol", "1e-5"},
                 {"model.max_iter", "7"}, {"model.threads", "2"}, {"model.onecoin_below", "5"}});
  ASSERT_TRUE(config.ok()) << config.status();
  const consensus::AggregateOptions fit = config->FitOptions();
  EXPECT_EQ(fit.method, consensus::Method::kOneCoin);
  EXPECT_EQ(fit.prior, 0);
  EXPECT_EQ(fit.tol, 1e-5);
  EXPECT_EQ(fit.max_iter, 7);
  EXPECT_EQ(fit.threads, 2);
  EXPECT_EQ(fit.onecoin_below, 5);
}

TEST_F(ConfigTest, BayesianMethodsReachTheFitOptions) {
  for (const auto& [name, method] : {std::pair{"vbds", consensus::Method::kVariational},
                                     std::pair{"mace", consensus::Method::kMace},
                                     std::pair{"hds", consensus::Method::kHierarchical}}) {
    absl::StatusOr<Config> config = LoadFlags({{"model.method", name}});
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->FitOptions().method, method) << name;
  }
}

TEST_F(ConfigTest, EmptyFileGivesDefaults) {
  absl::StatusOr<Config> config = Load("# nothing set\n", {}, {{"kafka.brokers", "k:9092"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.group, "consensusd");
}

TEST_F(ConfigTest, SectionWithEveryKeyCommentedOutIsEmpty) {
  absl::StatusOr<Config> config = Load("kafka:\n  brokers: k:9092\nreview:\n  # min_answers: 3\n");
  ASSERT_TRUE(config.ok()) << config.status();
}

TEST_F(ConfigTest, BrokersAreRequiredAndTheErrorSaysHowToSetThem) {
  EXPECT_THAT(LoadError(""),
              HasSubstr("--brokers is required: set it or kafka.brokers in the config file"));
}

// --- Precedence -----------------------------------------------------------

TEST_F(ConfigTest, FlagOverEnvironmentOverFileOverDefault) {
  const std::string yaml =
      "kafka:\n"
      "  brokers: file:9092\n"
      "  group: from-file\n"
      "  labels_topic: file-labels\n"
      "  dlq_topic: file-dlq\n";
  const Env env = {{"CONSENSUSD_KAFKA_GROUP", "from-env"},
                   {"CONSENSUSD_KAFKA_LABELS_TOPIC", "env-labels"}};
  absl::StatusOr<Config> config = Load(yaml, env, {{"kafka.group", "from-flag"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.group, "from-flag");            // flag > env > file
  EXPECT_EQ(config->kafka.labels_topic, "env-labels");    // env > file
  EXPECT_EQ(config->kafka.dlq_topic, "file-dlq");         // file > default
  EXPECT_EQ(config->kafka.review_topic, "labels.review");  // default
  EXPECT_EQ(config->kafka.brokers, "file:9092");
}

TEST_F(ConfigTest, LastFlagOfAKeyWins) {
  absl::StatusOr<Config> config = LoadFlags({{"kafka.group", "a"}, {"kafka.group", "b"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.group, "b");
}

TEST_F(ConfigTest, EmptyEnvironmentVariableCountsAsUnset) {
  absl::StatusOr<Config> config =
      Load("kafka:\n  brokers: k:9092\n  group: from-file\n", {{"CONSENSUSD_KAFKA_GROUP", ""}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.group, "from-file");
}

TEST_F(ConfigTest, EveryKeyHasAnEnvironmentVariable) {
  absl::StatusOr<Config> config = Load("", {{"CONSENSUSD_KAFKA_BROKERS", "env:9092"},
                                            {"CONSENSUSD_MODEL_PRIOR", "0.25"},
                                            {"CONSENSUSD_STATE_DATA_DIR", "/var/lib/c"},
                                            {"CONSENSUSD_PROJECT_DEFAULTS_MAX_CLASSES", "8"},
                                            {"CONSENSUSD_PROJECT_DEFAULTS_CLASSES", "a,b"},
                                            {"CONSENSUSD_HTTP_MAX_BODY_BYTES", "4096"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.brokers, "env:9092");
  EXPECT_EQ(config->model.prior, 0.25);
  EXPECT_EQ(config->state.data_dir, "/var/lib/c");
  EXPECT_EQ(config->project_defaults.max_classes, 8);
  EXPECT_THAT(config->project_defaults.classes, ElementsAre("a", "b"));
  EXPECT_EQ(config->http.max_body_bytes, 4096u);
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(ConfigTest, EnvironmentVariableNamesAreUnique) {
  std::map<std::string, std::string> seen;
  for (const std::string& key : ConfigKeyNames()) {
    if (key.find('<') != std::string::npos) continue;  // map entries: no variable of their own
    auto [it, inserted] = seen.emplace(EnvVarName(key), key);
    EXPECT_TRUE(inserted) << key << " and " << it->second << " share " << it->first;
  }
  EXPECT_EQ(EnvVarName("kafka.brokers"), "CONSENSUSD_KAFKA_BROKERS");
  EXPECT_EQ(EnvVarName("http.admin_token"), "CONSENSUSD_HTTP_ADMIN_TOKEN");
}

TEST_F(ConfigTest, AdminTokenAliasFromSpec) {
  absl::StatusOr<Config> config = Load("", {{"CONSENSUSD_KAFKA_BROKERS", "k:9092"},
                                            {"CONSENSUSD_ADMIN_TOKEN", "t0ken"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http.admin_token, "t0ken");
}

TEST_F(ConfigTest, AdminTokenAliasAndCanonicalNameMustAgree) {
  const Env same = {{"CONSENSUSD_KAFKA_BROKERS", "k:9092"},
                    {"CONSENSUSD_ADMIN_TOKEN", "a"},
                    {"CONSENSUSD_HTTP_ADMIN_TOKEN", "a"}};
  EXPECT_TRUE(Load("", same).ok());
  Env different = same;
  different["CONSENSUSD_HTTP_ADMIN_TOKEN"] = "b";
  EXPECT_EQ(LoadError("", different),
            "CONSENSUSD_ADMIN_TOKEN and CONSENSUSD_HTTP_ADMIN_TOKEN set http.admin_token to "
            "different values: set only one");
}

// --- Unknown keys ---------------------------------------------------------

TEST_F(ConfigTest, UnknownKeyNamesTheKeyAndSuggestsTheClosest) {
  const std::string yaml =
      "kafka:\n"
      "  brokers: k:9092\n"
      "  brokerz: k:9093\n";
  EXPECT_EQ(LoadError(yaml), "unknown key 'kafka.brokerz' (did you mean 'kafka.brokers'?)");
}

TEST_F(ConfigTest, UnknownSectionSuggestsTheClosestSection) {
  EXPECT_EQ(LoadError("kafak:\n  brokers: k:9092\n"),
            "unknown key 'kafak' (did you mean 'kafka'?)");
}

TEST_F(ConfigTest, KeyInTheWrongSectionIsUnknown) {
  EXPECT_EQ(LoadError("model:\n  min_confidence: 0.8\n"), "unknown key 'model.min_confidence'");
}

TEST_F(ConfigTest, UnknownKeyFarFromAnyKeyHasNoSuggestion) {
  EXPECT_EQ(LoadError("kafka:\n  zzzzzzzzzzzzzzzzzz: 1\n"),
            "unknown key 'kafka.zzzzzzzzzzzzzzzzzz'");
}

TEST_F(ConfigTest, UnknownProjectKeySuggestsTheProjectKey) {
  EXPECT_EQ(LoadError("projects:\n  sentiment-v2:\n    clases: [a, b]\n"),
            "unknown key 'projects.sentiment-v2.clases' (did you mean "
            "'projects.sentiment-v2.classes'?)");
}

TEST_F(ConfigTest, UnknownKeyInSetIsAnError) {
  EXPECT_EQ(FlagError({{"kafka.brokerz", "x"}}),
            "unknown key 'kafka.brokerz' (did you mean 'kafka.brokers'?)");
  EXPECT_THAT(FlagError({{"projects.p.quality.min_acuracy", "0.5"}}),
              HasSubstr("did you mean 'projects.p.quality.min_accuracy'?"));
}

TEST_F(ConfigTest, SettingASectionSaysItIsAMappingOfKeys) {
  EXPECT_EQ(FlagError({{"kafka", "x"}}), "kafka: expected a mapping of its keys, got 'x'");
  EXPECT_EQ(FlagError({{"projects.p", "x"}}),
            "projects.p: expected a mapping of its keys, got 'x'");
}

TEST_F(ConfigTest, DottedKeyInTheFileSaysToNestIt) {
  EXPECT_EQ(LoadError("kafka.brokers: k:9092\n"), "unknown key 'kafka.brokers' (write it nested)");
  EXPECT_EQ(LoadError("projects:\n  p:\n    quality.min_answers: 3\n"),
            "unknown key 'projects.p.quality.min_answers' (write it nested)");
  EXPECT_EQ(LoadError("foo.bar: 1\n"), "unknown key 'foo.bar'");
}

TEST_F(ConfigTest, DuplicateKeyIsAnError) {
  EXPECT_EQ(LoadError("kafka:\n  group: a\n  group: b\n"), "duplicate key 'kafka.group'");
}

TEST_F(ConfigTest, UnknownEnvironmentVariableIsAWarning) {
  absl::StatusOr<Config> config = Load("", {{"CONSENSUSD_KAFKA_BROKERS", "k:9092"},
                                            {"CONSENSUSD_KAFKA_GRUOP", "x"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings_,
              ElementsAre("ignoring unknown environment variable CONSENSUSD_KAFKA_GRUOP"));
}

TEST_F(ConfigTest, KubernetesServiceLinkVariablesAreIgnoredSilently) {
  absl::StatusOr<Config> config = Load("", {{"CONSENSUSD_KAFKA_BROKERS", "k:9092"},
                                            {"CONSENSUSD_SERVICE_HOST", "10.0.0.1"},
                                            {"CONSENSUSD_SERVICE_PORT", "8080"},
                                            {"CONSENSUSD_PORT", "tcp://10.0.0.1:8080"},
                                            {"CONSENSUSD_PORT_8080_TCP_ADDR", "10.0.0.1"},
                                            {"HOME", "/root"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings_, IsEmpty());
}

TEST_F(ConfigTest, PerProjectEnvironmentVariableIsAWarning) {
  absl::StatusOr<Config> config = Load("", {{"CONSENSUSD_KAFKA_BROKERS", "k:9092"},
                                            {"CONSENSUSD_PROJECTS_X_CLASSES", "a,b"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings_,
              ElementsAre("ignoring unknown environment variable CONSENSUSD_PROJECTS_X_CLASSES"));
  EXPECT_THAT(config->projects, IsEmpty());
}

// --- Type errors ----------------------------------------------------------

TEST_F(ConfigTest, TypeErrorNamesTheKeyTheTypeAndTheValue) {
  EXPECT_EQ(LoadError("kafka:\n  brokers: k:9092\n  commit_interval_ms: often\n"),
            "kafka.commit_interval_ms: expected an integer from -2147483648 to 2147483647, "
            "got 'often'");
}

TEST_F(ConfigTest, TypeErrorFromEnvironmentNamesTheKey) {
  EXPECT_EQ(LoadError("", {{"CONSENSUSD_MODEL_TOL", "small"}}),
            "model.tol: expected a number, got 'small'");
}

TEST_F(ConfigTest, TypeErrorFromFlag) {
  EXPECT_EQ(FlagError({{"model.max_iter", "1.5"}}),
            "model.max_iter: expected an integer from -2147483648 to 2147483647, got '1.5'");
}

TEST_F(ConfigTest, IntegerOutOfRangeSaysTheRange) {
  EXPECT_THAT(FlagError({{"kafka.commit_interval_ms", "99999999999"}}),
              HasSubstr("expected an integer from -2147483648 to 2147483647, got '99999999999'"));
  EXPECT_THAT(FlagError({{"state.write_buffer_mb", "-1"}}),
              HasSubstr("state.write_buffer_mb: expected an integer from 0 to"));
}

TEST_F(ConfigTest, NumbersMustBeFinite) {
  EXPECT_THAT(FlagError({{"model.prior", "nan"}}), HasSubstr("expected a number, got 'nan'"));
  EXPECT_THAT(LoadError("model:\n  prior: .inf\n"), HasSubstr("expected a number, got '.inf'"));
}

TEST_F(ConfigTest, NumbersAcceptExponentsAndBlanks) {
  absl::StatusOr<Config> config = LoadFlags({{"model.tol", " 1e-9 "}, {"model.max_iter", "+20"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->model.tol, 1e-9);
  EXPECT_EQ(config->model.max_iter, 20);
}

TEST_F(ConfigTest, ListWhereAScalarBelongs) {
  EXPECT_EQ(LoadError("kafka:\n  group: [a, b]\n"), "kafka.group: expected a string, got a list");
}

TEST_F(ConfigTest, ScalarWhereASectionBelongs) {
  EXPECT_EQ(LoadError("kafka: localhost:9092\n"),
            "kafka: expected a mapping of its keys, got 'localhost:9092'");
}

TEST_F(ConfigTest, ClassesInTheFileMustBeAList) {
  EXPECT_EQ(LoadError("projects:\n  p:\n    classes: yes-no\n"),
            "projects.p.classes: expected a list of strings, got 'yes-no'");
}

TEST_F(ConfigTest, EmptyValueIsATypeError) {
  EXPECT_EQ(LoadError("model:\n  tol:\n"), "model.tol: expected a number, got an empty value");
}

TEST_F(ConfigTest, InvalidYamlReportsTheFileAndTheLine) {
  const std::string error = LoadError("kafka:\n  brokers: [unclosed\n");
  EXPECT_THAT(error, ::testing::StartsWith(Path() + ": invalid YAML"));
  EXPECT_THAT(error, HasSubstr("error at line 3"));  // where yaml-cpp finds the sequence unclosed
}

TEST_F(ConfigTest, FileErrorIsNotHiddenByAVariableSettingAKeyBelowIt) {
  EXPECT_EQ(LoadError("kafka: localhost:9092\n", {{"CONSENSUSD_KAFKA_GROUP", "g"}}),
            "kafka: expected a mapping of its keys, got 'localhost:9092'");
}

TEST_F(ConfigTest, TopLevelMustBeAMapping) {
  EXPECT_THAT(LoadError("- kafka\n"), HasSubstr("expected a mapping of sections"));
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  absl::StatusOr<Config> config = LoadConfig(dir_.File("nope.yaml"), {}, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("cannot read config file"));
  EXPECT_THAT(config.status().message(), HasSubstr("No such file or directory"));
}

// --- Validation -----------------------------------------------------------

struct InvalidCase {
  std::string key, value, message;
};

TEST_F(ConfigTest, ValidationNamesTheKeyTheRangeAndTheValue) {
  const InvalidCase cases[] = {
      {"model.method", "mv",
       "model.method must be ds, onecoin, vbds, mace or hds, got 'mv' (mv and wawa are batch-only"},
      {"model.method", "em", "model.method must be ds, onecoin, vbds, mace or hds, got 'em'"},
      {"model.prior", "-1", "model.prior must be >= 0, got -1"},
      {"model.diagonal_prior", "-0.5", "model.diagonal_prior must be >= 0, got -0.5"},
      {"model.tol", "0", "model.tol must be > 0, got 0"},
      {"model.max_iter", "0", "model.max_iter must be >= 1, got 0"},
      {"model.sweep_interval_s", "0", "model.sweep_interval_s must be > 0, got 0"},
      {"model.threads", "-1", "model.threads must be from 0 to 256, got -1"},
      {"model.onecoin_below", "-1", "model.onecoin_below must be >= 0, got -1"},
      {"review.min_confidence", "0", "review.min_confidence must be > 0 and <= 1, got 0"},
      {"review.min_confidence", "1.5", "review.min_confidence must be > 0 and <= 1, got 1.5"},
      {"review.min_answers", "-1", "review.min_answers must be >= 0, got -1"},
      {"output.min_change", "2", "output.min_change must be from 0 to 1, got 2"},
      {"http.address", "localhost", "http.address must be HOST:PORT"},
      {"http.address", "localhost:99999", "http.address must be HOST:PORT"},
      {"http.max_body_bytes", "0", "http.max_body_bytes must be >= 1"},
      {"kafka.group", "", "kafka.group must not be empty"},
      {"kafka.labels_topic", "bad topic", "kafka.labels_topic 'bad topic' is not a Kafka topic"},
      {"kafka.consensus_topic", "labels",
       "kafka.consensus_topic must differ from kafka.labels_topic (both are 'labels')"},
      {"kafka.commit_interval_ms", "0", "kafka.commit_interval_ms must be >= 1, got 0"},
      {"kafka.commit_max_messages", "0", "kafka.commit_max_messages must be >= 1, got 0"},
      {"state.data_dir", "", "state.data_dir must not be empty"},
      {"state.block_cache_mb", "0", "state.block_cache_mb must be from 1 to 1048576, got 0"},
      {"project_defaults.max_classes", "1",
       "project_defaults.max_classes must be from 2 to 1024, got 1"},
      {"project_defaults.quality.min_accuracy", "1.5",
       "project_defaults.quality.min_accuracy must be from 0 to 1, got 1.5"},
      {"project_defaults.quality.max_spam_score", "-0.1",
       "project_defaults.quality.max_spam_score must be from 0 to 1"},
      {"project_defaults.quality.min_answers", "-5",
       "project_defaults.quality.min_answers must be >= 0"},
      {"projects.p.classes", "a,b,a", "projects.p.classes lists 'a' twice"},
      {"projects.p.repeats", "twice",
       "projects.p.repeats must be replace (a later answer of a worker to a task replaces the "
       "earlier one) or count (every answer counts), got 'twice'"},
      {"project_defaults.repeats", "", "project_defaults.repeats must be replace"},
      {"projects.p.repeats", "all",
       "projects.p.repeats must be replace (a later answer of a worker to a task replaces the "
       "earlier one) or count (every answer counts), got 'all' (last and all are accepted by "
       "consensusd aggregate only: write count)"},
      {"projects.p.classes", "a,,b",
       "projects.p.classes: expected a list of strings, got a list"},
      {"projects.p.classes", "[a, '']", "projects.p.classes has an empty class name"},
      {"projects.p.classes", "only", "projects.p.classes declares one class"},
      {"projects.p.kind", "ranking",
       "projects.p.kind must be categorical, pairwise or rating (or unset: the first answer "
       "fixes it), got 'ranking'"},
      {"projects.p.scale", "[1]", "projects.p.scale must be [min, max], two numbers with min < max"},
      {"projects.p.scale", "[7, 1]", "projects.p.scale must be [min, max]"},
      {"projects.p.scale", "[low, high]", "projects.p.scale must be [min, max]"},
      {"metrics.per_worker_limit", "-1", "metrics.per_worker_limit must be >= 0, got -1"},
      {"kafka.properties.bootstrap.servers", "x",
       "kafka.properties.bootstrap.servers cannot be set: use kafka.brokers"},
      {"kafka.properties.group.id", "x", "kafka.properties.group.id cannot be set: use kafka.group"},
      {"kafka.properties.group.instance.id", "x",
       "kafka.properties.group.instance.id cannot be set: use kafka.instance_id"},
      {"kafka.properties.enable.auto.commit", "true",
       "kafka.properties.enable.auto.commit cannot be set: consensusd manages it"},
  };
  for (const InvalidCase& c : cases) {
    EXPECT_THAT(FlagError({{c.key, c.value}}), ::testing::StartsWith(c.message))
        << c.key << "=" << c.value;
  }
}

TEST_F(ConfigTest, ValidationErrorIsTheSameFromEverySource) {
  EXPECT_EQ(LoadError("kafka:\n  brokers: k:9092\nmodel:\n  tol: 0\n"),
            "model.tol must be > 0, got 0");
  EXPECT_EQ(LoadError("", {{"CONSENSUSD_KAFKA_BROKERS", "k:9092"}, {"CONSENSUSD_MODEL_TOL", "0"}}),
            "model.tol must be > 0, got 0");
  EXPECT_EQ(FlagError({{"model.tol", "0"}}), "model.tol must be > 0, got 0");
}

TEST_F(ConfigTest, ValidateOnAConfigBuiltInCode) {
  Config config;
  EXPECT_THAT(config.Validate().message(), HasSubstr("--brokers is required"));
  config.kafka.brokers = "k:9092";
  EXPECT_TRUE(config.Validate().ok());
  config.review.min_confidence = std::nan("");
  EXPECT_THAT(config.Validate().message(), HasSubstr("review.min_confidence must be > 0"));
}

TEST_F(ConfigTest, HttpAddressAcceptsIpv6AndPortZero) {
  EXPECT_TRUE(LoadFlags({{"http.address", "[::1]:8080"}}).ok());
  EXPECT_TRUE(LoadFlags({{"http.address", "0.0.0.0:0"}}).ok());
  EXPECT_FALSE(LoadFlags({{"http.address", "::1:8080"}}).ok());
  EXPECT_FALSE(LoadFlags({{"http.address", ":8080"}}).ok());
}

TEST_F(ConfigTest, DeclaringMoreClassesThanMaxClassesSaysToRaiseIt) {
  EXPECT_EQ(FlagError({{"projects.p.max_classes", "2"}, {"projects.p.classes", "a,b,c"}}),
            "projects.p.classes declares 3 classes, more than "
            "projects.p.max_classes (2): raise max_classes");
}

// --- Projects -------------------------------------------------------------

TEST_F(ConfigTest, DeclaredProjectHasItsClassesAndThresholds) {
  const std::string yaml =
      "kafka:\n"
      "  brokers: k:9092\n"
      "project_defaults:\n"
      "  quality:\n"
      "    min_answers: 30\n"
      "projects:\n"
      "  sentiment-v2:\n"
      "    classes: [negative, neutral, positive]\n"
      "    quality:\n"
      "      min_accuracy: 0.6\n";
  absl::StatusOr<Config> config = Load(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  const ProjectConfig& p = config->ForProject("sentiment-v2");
  EXPECT_THAT(p.classes, ElementsAre("negative", "neutral", "positive"));
  EXPECT_EQ(p.quality.min_accuracy, 0.6);
  EXPECT_EQ(p.quality.min_answers, 30);  // inherited from project_defaults
  EXPECT_EQ(p.max_classes, 64);          // the built-in default
  const ProjectConfig& other = config->ForProject("other");
  EXPECT_THAT(other.classes, IsEmpty());
  EXPECT_EQ(other.quality.min_answers, 30);
  EXPECT_EQ(other.quality.min_accuracy, consensus::QualityThresholds{}.min_accuracy);
  EXPECT_EQ(&config->ForProject("default"), &config->project_defaults);
}

TEST_F(ConfigTest, ProjectInheritsDefaultsWhateverTheirSource) {
  // The default comes from the environment, the project from the file: the
  // project's own value beats the default even when the default has precedence.
  const std::string yaml =
      "kafka: {brokers: k:9092}\n"
      "projects:\n"
      "  a: {classes: [x, y]}\n"
      "  b: {max_classes: 5}\n";
  absl::StatusOr<Config> config = Load(yaml, {{"CONSENSUSD_PROJECT_DEFAULTS_MAX_CLASSES", "10"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ForProject("a").max_classes, 10);
  EXPECT_EQ(config->ForProject("b").max_classes, 5);
  EXPECT_EQ(config->StreamingOptionsFor("a").max_classes, 10);
  EXPECT_EQ(config->StreamingOptionsFor("unknown").max_classes, 10);
}

TEST_F(ConfigTest, RepeatsDefaultToReplaceAndReachTheStreamingModel) {
  const std::string yaml =
      "kafka: {brokers: k:9092}\n"
      "projects:\n"
      "  rows: {repeats: count}\n";
  absl::StatusOr<Config> config = Load(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->project_defaults.repeats, "replace");
  EXPECT_EQ(config->StreamingOptionsFor("rows").repeats, consensus::DuplicatePolicy::kKeepAll);
  EXPECT_EQ(config->StreamingOptionsFor("other").repeats, consensus::DuplicatePolicy::kKeepLast);
  absl::StatusOr<Config> env = Load("kafka: {brokers: k:9092}\n",
                                    {{"CONSENSUSD_PROJECT_DEFAULTS_REPEATS", "count"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->StreamingOptionsFor("any").repeats, consensus::DuplicatePolicy::kKeepAll);
}

TEST_F(ConfigTest, KindAndScaleOfAProject) {
  const std::string yaml =
      "kafka: {brokers: k:9092}\n"
      "projects:\n"
      "  helpful-v3: {kind: pairwise}\n"
      "  eval-7: {kind: rating, scale: [1, 7]}\n";
  absl::StatusOr<Config> config = Load(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ForProject("helpful-v3").kind, "pairwise");
  EXPECT_EQ(config->ForProject("eval-7").kind, "rating");
  EXPECT_EQ(config->ForProject("eval-7").ScaleMin(), 1);
  EXPECT_EQ(config->ForProject("eval-7").ScaleMax(), 7);
  EXPECT_EQ(config->ForProject("other").kind, "");
}

TEST_F(ConfigTest, ScaleOnlyForRatingProjects) {
  absl::StatusOr<Config> config =
      Load("kafka: {brokers: k:9092}\nprojects: {p: {kind: pairwise, scale: [1, 5]}}\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              ::testing::HasSubstr("projects.p.scale is set but projects.p.kind is pairwise"));
}

TEST_F(ConfigTest, ClassesAndCountRepeatsOnlyForCategoricalProjects) {
  absl::StatusOr<Config> classes =
      Load("kafka: {brokers: k:9092}\nprojects: {p: {kind: rating, classes: [a, b]}}\n");
  ASSERT_FALSE(classes.ok());
  EXPECT_THAT(classes.status().message(), ::testing::HasSubstr("classes apply to categorical"));
  absl::StatusOr<Config> repeats =
      Load("kafka: {brokers: k:9092}\nprojects: {p: {kind: pairwise, repeats: count}}\n");
  ASSERT_FALSE(repeats.ok());
  EXPECT_THAT(repeats.status().message(), ::testing::HasSubstr("repeats: count is for categorical"));
}

TEST_F(ConfigTest, FlagOverridesOneKeyOfAFileProject) {
  const std::string yaml =
      "kafka: {brokers: k:9092}\n"
      "projects:\n"
      "  p: {classes: [x, y], max_classes: 5}\n";
  absl::StatusOr<Config> config = Load(yaml, {}, {{"projects.p.max_classes", "7"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ForProject("p").max_classes, 7);
  EXPECT_THAT(config->ForProject("p").classes, ElementsAre("x", "y"));
}

TEST_F(ConfigTest, ProjectNamesMayContainDots) {
  absl::StatusOr<Config> config = LoadFlags({{"projects.team.a.classes", "x,y"},
                                             {"projects.team.a.quality.min_answers", "4"}});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->projects.count("team.a"), 1u);
  EXPECT_THAT(config->ForProject("team.a").classes, ElementsAre("x", "y"));
  EXPECT_EQ(config->ForProject("team.a").quality.min_answers, 4);
}

TEST_F(ConfigTest, ListFlagIsAFlowSequenceWithOptionalBrackets) {
  absl::StatusOr<Config> config =
      LoadFlags({{"projects.p.classes", "[a, \"b,c\"]"}, {"projects.q.classes", " x , y "}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->ForProject("p").classes, ElementsAre("a", "b,c"));
  EXPECT_THAT(config->ForProject("q").classes, ElementsAre("x", "y"));
  EXPECT_EQ(FlagError({{"projects.p.classes", "[a, b"}}),
            "projects.p.classes: expected a list of strings, got '[a, b'");
}

TEST_F(ConfigTest, ProjectDeclaredWithoutSettingsGetsTheDefaults) {
  absl::StatusOr<Config> config = Load("kafka: {brokers: k:9092}\nprojects:\n  p:\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->projects.count("p"), 1u);
  EXPECT_EQ(config->ForProject("p").max_classes, 64);
}

TEST_F(ConfigTest, ProjectTypeErrorNamesTheProjectKey) {
  EXPECT_EQ(LoadError("projects:\n  p:\n    max_classes: many\n"),
            "projects.p.max_classes: expected an integer from -2147483648 to 2147483647, "
            "got 'many'");
}

TEST_F(ConfigTest, InvalidProjectValueNamesTheProjectKey) {
  EXPECT_EQ(LoadError("kafka: {brokers: k:9092}\nprojects:\n  p:\n    max_classes: 1\n"),
            "projects.p.max_classes must be from 2 to 1024, got 1");
}

// --- kafka.properties -----------------------------------------------------

TEST_F(ConfigTest, KafkaPropertiesPassThroughFromEverySource) {
  const std::string yaml =
      "kafka:\n"
      "  brokers: k:9092\n"
      "  properties:\n"
      "    security.protocol: SASL_SSL\n"
      "    sasl.mechanism: PLAIN\n"
      "    queue.buffering.max.ms: 5\n"
      "    enable.idempotence: true\n";
  absl::StatusOr<Config> config =
      Load(yaml, {{"CONSENSUSD_KAFKA_PROPERTIES_SASL_PASSWORD", "pw"}},
           {{"kafka.properties.sasl.mechanism", "SCRAM-SHA-512"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->kafka.properties,
              UnorderedElementsAre(Pair("security.protocol", "SASL_SSL"),
                                   Pair("sasl.mechanism", "SCRAM-SHA-512"),
                                   Pair("queue.buffering.max.ms", "5"),
                                   Pair("enable.idempotence", "true"),
                                   Pair("sasl.password", "pw")));
}

TEST_F(ConfigTest, KafkaPropertyValuesMustBeScalars) {
  EXPECT_EQ(LoadError("kafka:\n  properties:\n    sasl:\n      mechanism: PLAIN\n"),
            "kafka.properties.sasl: expected a string, got a mapping");
}

TEST_F(ConfigTest, SecretKafkaPropertiesAreRecognised) {
  EXPECT_TRUE(IsSecretKafkaProperty("sasl.password"));
  EXPECT_TRUE(IsSecretKafkaProperty("ssl.key.password"));
  EXPECT_TRUE(IsSecretKafkaProperty("sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(IsSecretKafkaProperty("sasl.username"));
}

// --- Flags ----------------------------------------------------------------

class ConfigFlagsTest : public ::testing::Test {
 protected:
  ConfigFlagsTest() { AddConfigFlags(app_, &flags_); }
  CLI::App app_{"test"};
  ConfigFlags flags_;
};

TEST_F(ConfigFlagsTest, ShortFlagsAndSetKeepCommandLineOrder) {
  app_.parse("--config c.yaml --brokers b:1 --set model.prior=0.5 --topic t --group g "
             "--data-dir /d --http 0.0.0.0:9 --set kafka.group=g2 --print-config",
             false);
  EXPECT_EQ(flags_.config_path, "c.yaml");
  EXPECT_TRUE(flags_.print_config);
  EXPECT_THAT(flags_.overrides,
              ElementsAre(Pair("kafka.brokers", "b:1"), Pair("model.prior", "0.5"),
                          Pair("kafka.labels_topic", "t"), Pair("kafka.group", "g"),
                          Pair("state.data_dir", "/d"), Pair("http.address", "0.0.0.0:9"),
                          Pair("kafka.group", "g2")));
  absl::StatusOr<Config> config = LoadConfig(ConfigFlags{"", false, flags_.overrides}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kafka.group, "g2");  // the later of --group and --set kafka.group
  EXPECT_EQ(config->model.prior, 0.5);
}

TEST_F(ConfigFlagsTest, SetValueMayContainEquals) {
  app_.parse("--set kafka.properties.sasl.jaas.config=a=b", false);
  EXPECT_THAT(flags_.overrides, ElementsAre(Pair("kafka.properties.sasl.jaas.config", "a=b")));
}

TEST_F(ConfigFlagsTest, SetWithoutEqualsIsAUsageError) {
  try {
    app_.parse("--set model.prior", false);
    FAIL() << "parsed";
  } catch (const CLI::ParseError& e) {
    EXPECT_THAT(e.what(), HasSubstr("expects KEY=VALUE"));
  }
}

TEST_F(ConfigFlagsTest, EnvironmentHoldsOnlyConsensusdVariables) {
  ::setenv("CONSENSUSD_TEST_ONLY_VARIABLE", "1", 1);
  const std::map<std::string, std::string> env = ConsensusdEnvironment();
  ::unsetenv("CONSENSUSD_TEST_ONLY_VARIABLE");
  EXPECT_EQ(env.count("CONSENSUSD_TEST_ONLY_VARIABLE"), 1u);
  for (const auto& [name, value] : env) EXPECT_EQ(name.rfind("CONSENSUSD_", 0), 0u) << name;
}

}  // namespace
}  // namespace consensusd::service
