// Public API of kvpress.cpp in one include: Engine (model, tokenizer, threads), Session (a compressed
// context and its questions), PressConfig (presses by specification or typed constructor), answer().
#pragma once
#include "kvpress/engine.h"
#include "kvpress/error.h"
#include "kvpress/kv_type.h"
#include "kvpress/pipeline.h"
#include "kvpress/press.h"
#include "kvpress/progress.h"
#include "kvpress/sampling.h"
#include "kvpress/session.h"
#include "kvpress/version.h"
